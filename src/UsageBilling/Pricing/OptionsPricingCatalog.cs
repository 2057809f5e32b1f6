using System.Text.Json;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace UsageBilling;

/// <summary>
/// The default <see cref="IPricingCatalog"/>: flat and token prices from <see cref="PricingOptions"/> plus its JSON
/// price file. The price index is rebuilt when options reload, so price changes apply without a restart.
/// </summary>
internal sealed class OptionsPricingCatalog : IPricingCatalog
{
    private readonly IOptionsMonitor<UsageBillingOptions> _options;
    private readonly string _contentRoot;
    private readonly Lock _lock = new();
    private (PricingOptions Source, PriceIndex Index)? _cache;

    public OptionsPricingCatalog(IOptionsMonitor<UsageBillingOptions> options, IHostEnvironment? environment = null)
    {
        _options = options;
        _contentRoot = environment?.ContentRootPath ?? AppContext.BaseDirectory;
    }

    public ValueTask<Money?> GetEndpointPriceAsync(string priceName, CancellationToken cancellationToken = default)
        => ValueTask.FromResult<Money?>(_options.CurrentValue.Pricing.Endpoints.TryGetValue(priceName, out var units) ? Money.FromUnits(units) : null);

    public ValueTask<ModelPrice?> GetModelPriceAsync(string model, DateTimeOffset at, CancellationToken cancellationToken = default)
        => ValueTask.FromResult(Index().Find(model, at));

    public ValueTask<IReadOnlyList<ModelPrice>> ListModelPricesAsync(DateTimeOffset at, CancellationToken cancellationToken = default)
        => ValueTask.FromResult(Index().List(at));

    public ValueTask<decimal> GetPlanMarkupPercentAsync(string plan, CancellationToken cancellationToken = default)
        => ValueTask.FromResult(_options.CurrentValue.Pricing.PlanMarkupPercent.TryGetValue(plan, out var markup) ? markup : 0m);

    private PriceIndex Index()
    {
        var pricing = _options.CurrentValue.Pricing;
        var cache = _cache;
        if (cache is { } hit && ReferenceEquals(hit.Source, pricing))
        {
            return hit.Index;
        }

        lock (_lock)
        {
            if (_cache is { } again && ReferenceEquals(again.Source, pricing))
            {
                return again.Index;
            }

            var entries = new List<ModelPriceOptions>(pricing.Models);
            var aliases = new Dictionary<string, string>(pricing.ModelAliases, StringComparer.OrdinalIgnoreCase);
            if (!string.IsNullOrWhiteSpace(pricing.ModelPriceFile))
            {
                var file = LoadPriceFile(Path.Combine(_contentRoot, pricing.ModelPriceFile));
                entries.AddRange(file.Models);
                foreach (var (alias, target) in file.Aliases)
                {
                    aliases.TryAdd(alias, target);
                }
            }

            var index = new PriceIndex(entries, aliases);
            _cache = (pricing, index);
            return index;
        }
    }

    internal static ModelPriceFile LoadPriceFile(string path)
    {
        using var stream = File.OpenRead(path);
        return JsonSerializer.Deserialize<ModelPriceFile>(stream, PriceFileJson)
            ?? throw new InvalidDataException($"The price file '{path}' is empty.");
    }

    private static readonly JsonSerializerOptions PriceFileJson = new(JsonSerializerDefaults.Web) { ReadCommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true };

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

        public PriceIndex(IEnumerable<ModelPriceOptions> entries, IDictionary<string, string> aliases)
        {
            foreach (var entry in entries)
            {
                var price = ToPrice(entry);
                var name = entry.Model.Trim().ToLowerInvariant();
                if (!_byModel.TryGetValue(name, out var list))
                {
                    _byModel[name] = list = [];
                }

                list.Add(price);
                foreach (var alias in entry.Aliases)
                {
                    _aliases[alias.Trim()] = name;
                }
            }

            foreach (var (alias, target) in aliases)
            {
                _aliases[alias.Trim()] = target.Trim().ToLowerInvariant();
            }

            foreach (var list in _byModel.Values)
            {
                list.Sort((a, b) => Nullable.Compare(a.EffectiveFrom, b.EffectiveFrom));
            }
        }

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

    internal static ModelPrice ToPrice(ModelPriceOptions entry) => new()
    {
        Model = entry.Model.Trim().ToLowerInvariant(),
        InputPerMillion = Money.FromUnits(entry.Input),
        OutputPerMillion = Money.FromUnits(entry.Output),
        CachedInputPerMillion = Money.FromUnits(entry.CachedInput ?? entry.Input),
        RequestFee = Money.FromUnits(entry.RequestFee),
        EffectiveFrom = entry.EffectiveFrom,
    };
}
