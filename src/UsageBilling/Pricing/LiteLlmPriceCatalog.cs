using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace UsageBilling;

/// <summary>
/// Reads LiteLLM's <c>model_prices_and_context_window.json</c> (prices per token, keyed by model name) into model
/// prices per million tokens. Fields it does not know are ignored, as LiteLLM's schema asks of consumers; entries
/// without a per-token price (images per pixel, audio per second, search per query) and <c>sample_spec</c> are skipped.
/// </summary>
internal static partial class LiteLlmPriceCatalog
{
    private const decimal PerMillion = 1_000_000m;

    /// <summary>The catalogue's models, and the aliases it implies: a key <c>provider/name</c> whose provider is its <c>litellm_provider</c> is also found as <c>name</c>.</summary>
    public sealed record Content(IReadOnlyList<ModelPriceOptions> Models, IReadOnlyDictionary<string, string> Aliases);

    public static Content Read(Stream json)
    {
        using var document = JsonDocument.Parse(json, new JsonDocumentOptions { AllowTrailingCommas = true, CommentHandling = JsonCommentHandling.Skip });
        if (document.RootElement.ValueKind != JsonValueKind.Object)
        {
            throw new InvalidDataException("A LiteLLM price catalogue is a JSON object keyed by model name.");
        }

        var models = new List<ModelPriceOptions>();
        var aliases = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var entry in document.RootElement.EnumerateObject())
        {
            if (entry.Name == "sample_spec" || entry.Value.ValueKind != JsonValueKind.Object || ToPrice(entry.Name, entry.Value) is not { } price)
            {
                continue;
            }

            models.Add(price);
            var slash = entry.Name.IndexOf('/', StringComparison.Ordinal);
            if (slash > 0 && String(entry.Value, "litellm_provider") is { } provider && string.Equals(entry.Name[..slash], provider, StringComparison.OrdinalIgnoreCase))
            {
                aliases.TryAdd(entry.Name[(slash + 1)..], entry.Name);
            }
        }

        // A bare name that is also a model of its own keeps its own price.
        foreach (var model in models)
        {
            aliases.Remove(model.Model);
        }

        return new Content(models, aliases);
    }

    /// <summary>One entry as a price, or <see langword="null"/> when it has no per-token price or a price that is not a valid amount.</summary>
    private static ModelPriceOptions? ToPrice(string name, JsonElement entry)
    {
        // Never a silent $0: an entry with no positive token price (priced per query, pixel or second, or not at all)
        // is left out, so its model keeps the unknown-model policy.
        var input = PerToken(entry, "input_cost_per_token");
        var output = PerToken(entry, "output_cost_per_token");
        if (input is not > 0m && output is not > 0m)
        {
            return null;
        }

        var price = new ModelPriceOptions
        {
            Model = name,
            Input = input ?? 0m,
            Output = output ?? 0m,
            CachedInput = PerToken(entry, "cache_read_input_token_cost"),
            CacheWrite5m = PerToken(entry, "cache_creation_input_token_cost"),
            CacheWrite1h = PerToken(entry, "cache_creation_input_token_cost_above_1hr"),
            ReasoningOutput = PerToken(entry, "output_cost_per_reasoning_token"),
            AudioInput = PerToken(entry, "input_cost_per_audio_token"),
            AudioOutput = PerToken(entry, "output_cost_per_audio_token"),
            Image = Units(entry, "output_cost_per_image") ?? 0m,
            // LiteLLM bills web search at the medium search-context price unless the request says otherwise.
            WebSearchRequest = entry.TryGetProperty("search_context_cost_per_query", out var search) && search.ValueKind == JsonValueKind.Object
                ? Units(search, "search_context_size_medium") ?? 0m
                : 0m,
        };

        AddLongContext(entry, price);
        foreach (var (tier, suffix) in new[] { ("batch", "_batches"), ("flex", "_flex"), ("priority", "_priority") })
        {
            var tierInput = PerToken(entry, "input_cost_per_token" + suffix);
            var tierOutput = PerToken(entry, "output_cost_per_token" + suffix);
            if (tierInput is not null || tierOutput is not null)
            {
                price.ServiceTiers[tier] = new ServiceTierPriceOptions { Input = tierInput, Output = tierOutput, CachedInput = PerToken(entry, "cache_read_input_token_cost" + suffix) };
            }
        }

        var failures = new List<string>();
        UsageBillingOptionsValidator.ValidateModelPrice(name, price, requireName: true, failures);
        return failures.Count == 0 ? price : null;
    }

    /// <summary>
    /// The long-context tier from the <c>..._above_{N}k_tokens</c> fields (the lowest N when there are several): above N
    /// thousand input tokens, the whole call at those prices.
    /// </summary>
    private static void AddLongContext(JsonElement entry, ModelPriceOptions price)
    {
        long? threshold = null;
        foreach (var property in entry.EnumerateObject())
        {
            if (AboveTokens().Match(property.Name) is { Success: true } match
                && long.TryParse(match.Groups[1].Value, NumberStyles.None, CultureInfo.InvariantCulture, out var thousands))
            {
                threshold = Math.Min(threshold ?? long.MaxValue, thousands * 1000);
            }
        }

        if (threshold is not { } n)
        {
            return;
        }

        var suffix = $"_above_{n / 1000}k_tokens";
        price.LongContextThreshold = n;
        price.LongContext = new ServiceTierPriceOptions
        {
            Input = PerToken(entry, "input_cost_per_token" + suffix),
            Output = PerToken(entry, "output_cost_per_token" + suffix),
            CachedInput = PerToken(entry, "cache_read_input_token_cost" + suffix),
            CacheWrite5m = PerToken(entry, "cache_creation_input_token_cost" + suffix),
            CacheWrite1h = PerToken(entry, "cache_creation_input_token_cost_above_1hr" + suffix),
        };
    }

    [GeneratedRegex("_above_([0-9]{1,6})k_tokens$", RegexOptions.CultureInvariant)]
    private static partial Regex AboveTokens();

    /// <summary>A per-token price as a price per million tokens, rounded to the nano-unit.</summary>
    private static decimal? PerToken(JsonElement entry, string name) => Units(entry, name) is { } perToken ? Math.Round(perToken * PerMillion, 9) : null;

    private static decimal? Units(JsonElement entry, string name)
    {
        if (!entry.TryGetProperty(name, out var value) || value.ValueKind != JsonValueKind.Number)
        {
            return null;
        }

        if (value.TryGetDecimal(out var exact))
        {
            return exact;
        }

        // Written with an exponent: parse the text, never through binary floating point.
        return decimal.TryParse(value.GetRawText(), NumberStyles.Float, CultureInfo.InvariantCulture, out var parsed) ? parsed : null;
    }

    private static string? String(JsonElement entry, string name)
        => entry.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;
}
