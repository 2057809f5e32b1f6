using System.Text.Json;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace UsageBilling;

/// <summary>
/// The default <see cref="IPricingCatalog"/>: flat and token prices from <see cref="PricingOptions"/>, its JSON price
/// file, and prices set at run time in <see cref="IModelPriceStore"/>. The index is rebuilt when options reload, when
/// a price is set through this instance, and at least every <see cref="StoredPriceRefresh"/> for prices set elsewhere,
/// so price changes apply to later calls without a restart.
/// </summary>
internal sealed partial class OptionsPricingCatalog : IPricingCatalog, IDisposable
{
    internal static readonly TimeSpan StoredPriceRefresh = TimeSpan.FromSeconds(5);

    private readonly IOptionsMonitor<UsageBillingOptions> _options;
    private readonly IModelPriceStore? _store;
    private readonly string _contentRoot;
    private readonly SemaphoreSlim _refresh = new(1, 1);
    private volatile Snapshot? _cache;
    private (string Path, DateTime Written, ModelPriceFile Content)? _file;
    private (string Path, DateTime Written, LiteLlmPriceCatalog.Content Content)? _catalogue;
    private readonly ILogger<OptionsPricingCatalog> _logger;
    private readonly UsageBillingMetrics? _metrics;
    private readonly LiteLlmCatalogDownload? _download;

    public OptionsPricingCatalog(IOptionsMonitor<UsageBillingOptions> options, IModelPriceStore? store = null, IHostEnvironment? environment = null,
        ILogger<OptionsPricingCatalog>? logger = null, UsageBillingMetrics? metrics = null, LiteLlmCatalogDownload? download = null)
    {
        _options = options;
        _download = download;
        _metrics = metrics;
        _logger = logger ?? Microsoft.Extensions.Logging.Abstractions.NullLogger<OptionsPricingCatalog>.Instance;
        _store = store;
        _contentRoot = environment?.ContentRootPath ?? AppContext.BaseDirectory;
    }

    public void Dispose() => _refresh.Dispose();

    /// <summary>Makes the next call rebuild the index (tests; the catalog otherwise rebuilds at most every <see cref="StoredPriceRefresh"/>).</summary>
    internal void Invalidate() => _cache = null;

    /// <summary>Sets a price and makes it visible to this instance's next call at once.</summary>
    public async ValueTask SetModelPriceAsync(ModelPrice price, CancellationToken cancellationToken)
    {
        if (_store is null)
        {
            throw new InvalidOperationException("No IModelPriceStore is registered.");
        }

        await _store.UpsertAsync(price, cancellationToken).ConfigureAwait(false);
        _cache = null;
    }

    public ValueTask<Money?> GetEndpointPriceAsync(string priceName, CancellationToken cancellationToken = default)
        => ValueTask.FromResult<Money?>(_options.CurrentValue.Pricing.Endpoints.TryGetValue(priceName, out var units) ? Money.FromUnits(units) : null);

    public async ValueTask<ModelPrice?> GetModelPriceAsync(string model, DateTimeOffset at, CancellationToken cancellationToken = default)
        => (await IndexAsync(cancellationToken).ConfigureAwait(false)).Find(model, at);

    public async ValueTask<IReadOnlyList<ModelPrice>> ListModelPricesAsync(DateTimeOffset at, CancellationToken cancellationToken = default)
        => (await IndexAsync(cancellationToken).ConfigureAwait(false)).List(at);

    /// <summary>Every price version, configured and stored, for the pricing admin.</summary>
    public async ValueTask<IReadOnlyList<ModelPrice>> ListAllVersionsAsync(CancellationToken cancellationToken)
        => (await IndexAsync(cancellationToken).ConfigureAwait(false)).AllVersions();

    public ValueTask<decimal> GetPlanMarkupPercentAsync(string plan, CancellationToken cancellationToken = default)
        => ValueTask.FromResult(_options.CurrentValue.Pricing.PlanMarkupPercent.TryGetValue(plan, out var markup) ? markup : 0m);

    private ValueTask<PriceIndex> IndexAsync(CancellationToken cancellationToken)
    {
        var pricing = _options.CurrentValue.Pricing;
        var cache = _cache;
        return cache is not null && ReferenceEquals(cache.Source, pricing) && ReferenceEquals(cache.Download, _download?.Content) && Environment.TickCount64 < cache.RefreshAfter
            ? ValueTask.FromResult(cache.Index)
            : RebuildAsync(pricing, cancellationToken);
    }

    private async ValueTask<PriceIndex> RebuildAsync(PricingOptions pricing, CancellationToken cancellationToken)
    {
        await _refresh.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var cache = _cache;
            var download = _download?.Content;
            if (cache is not null && ReferenceEquals(cache.Source, pricing) && ReferenceEquals(cache.Download, download) && Environment.TickCount64 < cache.RefreshAfter)
            {
                return cache.Index;
            }

            // Alias precedence: configured aliases, then each listed model's own aliases (configuration before the file), then the file's.
            var file = string.IsNullOrWhiteSpace(pricing.ModelPriceFile) ? null : PriceFile(Path.Combine(_contentRoot, pricing.ModelPriceFile));
            var configured = pricing.Models.Concat(file?.Models ?? []).ToList();
            var aliases = new Dictionary<string, string>(pricing.ModelAliases, StringComparer.OrdinalIgnoreCase);
            foreach (var model in configured)
            {
                foreach (var alias in model.Aliases)
                {
                    aliases.TryAdd(alias, model.Model);
                }
            }

            foreach (var (alias, target) in file?.Aliases ?? [])
            {
                aliases.TryAdd(alias, target);
            }

            var entries = configured.Select(ToPrice).ToList();

            // Stored prices come last so that they win over configured ones with the same effective date.
            if (_store is not null)
            {
                entries.AddRange(await _store.ListAsync(cancellationToken).ConfigureAwait(false));
            }

            // The LiteLLM catalogue (a file, else the last good download from a URL) fills in models the operator does not
            // price at all (under any name of theirs).
            var catalogue = !string.IsNullOrWhiteSpace(pricing.LiteLlmCatalogFile) ? Catalogue(Path.Combine(_contentRoot, pricing.LiteLlmCatalogFile))
                : !string.IsNullOrWhiteSpace(pricing.LiteLlmCatalogUrl) ? download
                : null;
            if (catalogue is not null)
            {
                var operatorNames = new HashSet<string>(entries.Select(e => e.Model.Trim()).Concat(aliases.Keys), StringComparer.OrdinalIgnoreCase);
                entries.InsertRange(0, catalogue.Models.Where(m => !operatorNames.Contains(m.Model.Trim())).Select(ToPrice));
                foreach (var (alias, target) in catalogue.Aliases)
                {
                    if (!operatorNames.Contains(alias))
                    {
                        aliases.TryAdd(alias, target);
                    }
                }
            }

            var index = new PriceIndex(entries, aliases);
            _cache = new Snapshot(pricing, index, download, Environment.TickCount64 + (long)StoredPriceRefresh.TotalMilliseconds);
            return index;
        }
        finally
        {
            _refresh.Release();
        }
    }

    private sealed record Snapshot(PricingOptions Source, PriceIndex Index, LiteLlmPriceCatalog.Content? Download, long RefreshAfter);

    /// <summary>
    /// The price file, read again only when it changed. A file that stops parsing after it was read once keeps its
    /// last good prices (and the error is logged), so a bad edit never turns LLM calls into errors; at start-up a
    /// bad file stops the app.
    /// </summary>
    private ModelPriceFile PriceFile(string path)
    {
        var written = File.GetLastWriteTimeUtc(path);
        if (_file is { } cached && cached.Path == path && cached.Written == written)
        {
            return cached.Content;
        }

        try
        {
            var content = LoadPriceFile(path);
            _file = (path, written, content);
            return content;
        }
        catch (Exception ex) when (_file is { } previous && previous.Path == path && ex is IOException or JsonException or InvalidDataException or UnauthorizedAccessException)
        {
            Log.PriceFileUnreadable(_logger, ex, path);
            return previous.Content;
        }
    }

    /// <summary>
    /// The LiteLLM catalogue, read again only when it changed; a model whose price changed or that is gone is logged
    /// and counted. Like the price file, a catalogue that breaks after start-up keeps its last good prices.
    /// </summary>
    private LiteLlmPriceCatalog.Content Catalogue(string path)
    {
        var written = File.GetLastWriteTimeUtc(path);
        if (_catalogue is { } cached && cached.Path == path && cached.Written == written)
        {
            return cached.Content;
        }

        LiteLlmPriceCatalog.Content content;
        try
        {
            using var stream = File.OpenRead(path);
            content = LiteLlmPriceCatalog.Read(stream);
        }
        catch (Exception ex) when (_catalogue is { } previous && previous.Path == path && ex is IOException or JsonException or InvalidDataException or UnauthorizedAccessException)
        {
            Log.CatalogueUnreadable(_logger, ex, path);
            return previous.Content;
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new InvalidDataException($"UsageBilling:Pricing:LiteLlmCatalogFile names '{path}', which does not exist.", ex);
        }
        catch (JsonException ex)
        {
            throw new InvalidDataException($"The LiteLLM catalogue '{path}' (UsageBilling:Pricing:LiteLlmCatalogFile) is not valid JSON: {ex.Message}", ex);
        }

        if (_catalogue is { } before && before.Path == path)
        {
            ReportChanges(_logger, _metrics, path, before.Content, content);
        }

        _catalogue = (path, written, content);
        return content;
    }

    /// <summary>Logs and counts the models of <paramref name="before"/> whose price changed or is gone in <paramref name="after"/>.</summary>
    internal static void ReportChanges(ILogger logger, UsageBillingMetrics? metrics, string path, LiteLlmPriceCatalog.Content before, LiteLlmPriceCatalog.Content after)
    {
        var now = after.Models.ToDictionary(m => m.Model, CataloguePrice.Of, StringComparer.OrdinalIgnoreCase);
        var changed = new List<string>();
        var lost = new List<string>();
        foreach (var model in before.Models)
        {
            if (!now.TryGetValue(model.Model, out var price))
            {
                lost.Add(model.Model);
            }
            else if (price != CataloguePrice.Of(model))
            {
                changed.Add(model.Model);
            }
        }

        foreach (var (models, kind) in new[] { (changed, "changed"), (lost, "lost") })
        {
            if (models.Count == 0)
            {
                continue;
            }

            Log.CataloguePricesChanged(logger, path, models.Count, kind, string.Join(", ", models.Take(50)) + (models.Count > 50 ? $" and {models.Count - 50} more" : ""));
            foreach (var model in models)
            {
                metrics?.CatalogPriceChanged(model, kind);
            }
        }
    }

    /// <summary>What a catalogue change is judged by.</summary>
    private readonly record struct CataloguePrice(decimal Input, decimal Output, decimal? Cached, decimal? Write5m, decimal? Write1h, decimal? Reasoning, decimal? AudioIn, decimal? AudioOut,
        decimal WebSearch, decimal Image, long? Threshold, decimal? LongInput, decimal? LongOutput)
    {
        public static CataloguePrice Of(ModelPriceOptions m) => new(m.Input, m.Output, m.CachedInput, m.CacheWrite5m, m.CacheWrite1h, m.ReasoningOutput, m.AudioInput, m.AudioOutput,
            m.WebSearchRequest, m.Image, m.LongContextThreshold, m.LongContext?.Input, m.LongContext?.Output);
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Error, "The price file {Path} could not be read; the prices read from it before stay in use.", EventName = "PriceFileUnreadable")]
        public static partial void PriceFileUnreadable(ILogger logger, Exception exception, string path);

        [LoggerMessage(2, LogLevel.Error, "The LiteLLM catalogue {Path} could not be read; the prices read from it before stay in use.", EventName = "CatalogueUnreadable")]
        public static partial void CatalogueUnreadable(ILogger logger, Exception exception, string path);

        [LoggerMessage(3, LogLevel.Warning, "The LiteLLM catalogue {Path} was reloaded: {Count} models {Kind} their price: {Models}.", EventName = "CataloguePricesChanged")]
        public static partial void CataloguePricesChanged(ILogger logger, string path, int count, string kind, string models);
    }

    /// <summary>
    /// Reads and validates the price file with the rules configuration prices follow. Every failure is an
    /// <see cref="InvalidDataException"/> whose message names the setting, the file and (for a bad price) the model and field.
    /// </summary>
    internal static ModelPriceFile LoadPriceFile(string path)
    {
        const string Setting = "UsageBilling:Pricing:ModelPriceFile";
        ModelPriceFile? file;
        try
        {
            using var stream = File.OpenRead(path);
            file = JsonSerializer.Deserialize<ModelPriceFile>(stream, PriceFileJson);
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new InvalidDataException($"{Setting} names the price file '{path}', which does not exist.", ex);
        }
        catch (JsonException ex)
        {
            throw new InvalidDataException($"The price file '{path}' ({Setting}) is not valid: {ex.Message}", ex);
        }

        if (file is null)
        {
            throw new InvalidDataException($"The price file '{path}' ({Setting}) is empty.");
        }

        var failures = new List<string>();
        var seen = new HashSet<(string, DateTimeOffset?)>();
        for (var i = 0; i < file.Models.Count; i++)
        {
            var model = file.Models[i];
            var name = model.Model?.Trim() ?? "";
            var where = $"models[{i}]" + (name.Length > 0 ? $" '{name}'" : "");
            UsageBillingOptionsValidator.ValidateModelPrice(where, model, requireName: true, failures);
            if (name.Length > 0 && !seen.Add((name.ToLowerInvariant(), model.EffectiveFrom)))
            {
                failures.Add($"{where} is listed twice" + (model.EffectiveFrom is { } from ? $" with effectiveFrom {from:O}." : " (without effectiveFrom)."));
            }
        }

        foreach (var (alias, target) in file.Aliases)
        {
            if (string.IsNullOrWhiteSpace(alias) || string.IsNullOrWhiteSpace(target))
            {
                failures.Add($"aliases: '{alias}' → '{target}' needs a name on both sides.");
            }
        }

        return failures.Count == 0
            ? file
            : throw new InvalidDataException($"The price file '{path}' ({Setting}) is not valid: {string.Join(" ", failures)}");
    }

    // Populate: the get-only collections of ModelPriceOptions (Aliases, ServiceTiers) are filled, not skipped.
    private static readonly JsonSerializerOptions PriceFileJson = new(JsonSerializerDefaults.Web)
    {
        ReadCommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true, PreferredObjectCreationHandling = System.Text.Json.Serialization.JsonObjectCreationHandling.Populate,
    };

    internal sealed class ModelPriceFile
    {
        public List<ModelPriceOptions> Models { get; init; } = [];

        public Dictionary<string, string> Aliases { get; init; } = new(StringComparer.OrdinalIgnoreCase);
    }

    /// <summary>An immutable lookup: model name → prices ordered by effective date.</summary>
    internal sealed class PriceIndex
    {
        private readonly Dictionary<string, List<ModelPrice>> _byModel = new(StringComparer.OrdinalIgnoreCase);
        private readonly Dictionary<string, string> _aliases = new(StringComparer.OrdinalIgnoreCase);

        public PriceIndex(IEnumerable<ModelPrice> entries, IDictionary<string, string> aliases)
        {
            // A stable sort: among prices with the same effective date, the one added last wins.
            foreach (var group in entries.GroupBy(e => e.Model.Trim().ToLowerInvariant()))
            {
                _byModel[group.Key] = group.OrderBy(p => p.EffectiveFrom).ToList();
            }

            foreach (var (alias, target) in aliases)
            {
                _aliases[alias.Trim()] = target.Trim().ToLowerInvariant();
            }
        }

        public IReadOnlyList<ModelPrice> AllVersions()
            => _byModel.OrderBy(p => p.Key, StringComparer.Ordinal).SelectMany(p => p.Value).ToList();

        public ModelPrice? Find(string model, DateTimeOffset at)
        {
            foreach (var candidate in ModelNames.Candidates(model))
            {
                if (At(candidate, at) is { } price)
                {
                    return price;
                }

                if (_aliases.TryGetValue(candidate, out var target) && At(target, at) is { } aliased)
                {
                    return aliased;
                }
            }

            return null;
        }

        public IReadOnlyList<ModelPrice> List(DateTimeOffset at)
            => _byModel.Keys.Order(StringComparer.Ordinal).Select(name => At(name, at)).OfType<ModelPrice>().ToList();

        private ModelPrice? At(string name, DateTimeOffset at)
        {
            if (!_byModel.TryGetValue(name, out var prices))
            {
                return null;
            }

            ModelPrice? current = null;
            foreach (var price in prices)
            {
                if (price.EffectiveFrom is null || price.EffectiveFrom <= at)
                {
                    current = price;
                }
            }

            return current;
        }
    }

    internal static ModelPrice ToPrice(ModelPriceOptions entry)
    {
        var standard = Rates(entry, overrides: null);
        if (entry.ServiceTiers.Count == 0)
        {
            return standard;
        }

        var tiers = new Dictionary<string, ServiceTierPrice>(StringComparer.OrdinalIgnoreCase);
        foreach (var (name, tier) in entry.ServiceTiers)
        {
            tiers[name.Trim().ToLowerInvariant()] = new ServiceTierPrice(Rates(entry, tier), tier.Multiplier);
        }

        return standard with { ServiceTiers = tiers };
    }

    /// <summary>The entry's prices with <paramref name="overrides"/> applied, and its long-context tier (which a service tier keeps).</summary>
    private static ModelPrice Rates(ModelPriceOptions entry, ServiceTierPriceOptions? overrides)
    {
        var price = TokenRates(entry, overrides);
        return entry.LongContextThreshold is { } threshold
            ? price with { LongContext = new LongContextPrice(threshold, TokenRates(entry, entry.LongContext)) }
            : price;
    }

    private static ModelPrice TokenRates(ModelPriceOptions entry, ServiceTierPriceOptions? overrides)
    {
        var input = overrides?.Input ?? entry.Input;
        return new ModelPrice
        {
            Model = entry.Model.Trim().ToLowerInvariant(),
            InputPerMillion = Money.FromUnits(input),
            OutputPerMillion = Money.FromUnits(overrides?.Output ?? entry.Output),
            CachedInputPerMillion = Money.FromUnits(overrides?.CachedInput ?? entry.CachedInput ?? input),
            CacheWrite5mPerMillion = Optional(overrides?.CacheWrite5m ?? entry.CacheWrite5m),
            CacheWrite1hPerMillion = Optional(overrides?.CacheWrite1h ?? entry.CacheWrite1h),
            ReasoningOutputPerMillion = Optional(overrides?.ReasoningOutput ?? entry.ReasoningOutput),
            AudioInputPerMillion = Optional(entry.AudioInput),
            AudioOutputPerMillion = Optional(entry.AudioOutput),
            WebSearchPerRequest = Money.FromUnits(entry.WebSearchRequest),
            ImagePerUnit = Money.FromUnits(entry.Image),
            RequestFee = Money.FromUnits(entry.RequestFee),
            EffectiveFrom = entry.EffectiveFrom,
        };
    }

    private static Money? Optional(decimal? units) => units is { } u ? Money.FromUnits(u) : null;
}
