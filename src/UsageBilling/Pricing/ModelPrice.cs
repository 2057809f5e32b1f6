namespace UsageBilling;

/// <summary>A model's token prices as resolved for one call.</summary>
public sealed record ModelPrice
{
    /// <summary>The canonical model name the price is listed under (for example <c>gpt-4o</c>).</summary>
    public required string Model { get; init; }

    /// <summary>Price of one million input (prompt) tokens that were not served from cache.</summary>
    public required Money InputPerMillion { get; init; }

    /// <summary>Price of one million output (completion) tokens.</summary>
    public required Money OutputPerMillion { get; init; }

    /// <summary>Price of one million cached input tokens.</summary>
    public required Money CachedInputPerMillion { get; init; }

    /// <summary>A fee added to every call of the model.</summary>
    public Money RequestFee { get; init; }

    /// <summary>
    /// Price of one million input tokens written to a cache that lives 5 minutes (Anthropic's default
    /// <c>cache_control</c>); <see langword="null"/>: 1.25 × <see cref="InputPerMillion"/>, Anthropic's rule.
    /// </summary>
    public Money? CacheWrite5mPerMillion { get; init; }

    /// <summary>Price of one million input tokens written to a cache that lives 1 hour; <see langword="null"/>: 2 × <see cref="InputPerMillion"/>, Anthropic's rule.</summary>
    public Money? CacheWrite1hPerMillion { get; init; }

    /// <summary>Price of one million reasoning (thinking) output tokens, where it differs from <see cref="OutputPerMillion"/>; <see langword="null"/>: the output price.</summary>
    public Money? ReasoningOutputPerMillion { get; init; }

    /// <summary>Price of one million audio input tokens; <see langword="null"/>: the input price.</summary>
    public Money? AudioInputPerMillion { get; init; }

    /// <summary>Price of one million audio output tokens; <see langword="null"/>: the output price.</summary>
    public Money? AudioOutputPerMillion { get; init; }

    /// <summary>Price of one web-search request made by the model (a server tool).</summary>
    public Money WebSearchPerRequest { get; init; }

    /// <summary>Price of one image the model generated.</summary>
    public Money ImagePerUnit { get; init; }

    /// <summary>
    /// The long-context tier: when a call's input (uncached, cached and cache writes together) is above
    /// <see cref="LongContextPrice.ThresholdInputTokens"/>, all of its tokens are priced at the tier's rates — the way
    /// Anthropic and Google bill requests above 200k input tokens. <see langword="null"/>: no tier.
    /// </summary>
    public LongContextPrice? LongContext { get; init; }

    /// <summary>
    /// Prices by service tier (<c>batch</c>, <c>flex</c>, <c>priority</c>, ...; lower case), applied when the response
    /// (or else the request) names the tier. A tier not listed pays the standard price.
    /// </summary>
    public IReadOnlyDictionary<string, ServiceTierPrice> ServiceTiers { get; init; } = EmptyTiers;

    private static readonly IReadOnlyDictionary<string, ServiceTierPrice> EmptyTiers = new Dictionary<string, ServiceTierPrice>();

    /// <summary>When this price started to apply; <see langword="null"/> for "always".</summary>
    public DateTimeOffset? EffectiveFrom { get; init; }
}

/// <summary>The rates of a model's long-context tier.</summary>
/// <param name="ThresholdInputTokens">A call with more input tokens than this pays <paramref name="Price"/> for all its tokens.</param>
/// <param name="Price">The tier's rates (its per-call and per-unit prices apply too).</param>
public sealed record LongContextPrice(long ThresholdInputTokens, ModelPrice Price);

/// <summary>The price of a model in one service tier.</summary>
/// <param name="Price">The tier's rates: the standard price with the tier's overrides.</param>
/// <param name="Multiplier">Multiplies the cost at <paramref name="Price"/> (0.5 for a batch discount).</param>
public sealed record ServiceTierPrice(ModelPrice Price, decimal Multiplier = 1m);

/// <summary>What to do when a call names a model the catalog has no price for.</summary>
public enum UnknownModelPolicy
{
    /// <summary>Refuse the call with 400 naming the model (the default).</summary>
    Reject = 0,

    /// <summary>Price it with <see cref="PricingOptions.DefaultModelPrice"/>.</summary>
    DefaultPrice = 1,

    /// <summary>Let it through without charging for tokens.</summary>
    Free = 2,
}

/// <summary>A model price as written in configuration or a JSON price file. Prices are in currency units per million tokens.</summary>
public sealed class ModelPriceOptions
{
    /// <summary>The model name, for example <c>gpt-4o</c>.</summary>
    public string Model { get; set; } = "";

    /// <summary>Per million input tokens.</summary>
    public decimal Input { get; set; }

    /// <summary>Per million output tokens.</summary>
    public decimal Output { get; set; }

    /// <summary>Per million cached input tokens; the input price when not set.</summary>
    public decimal? CachedInput { get; set; }

    /// <summary>A fee per call.</summary>
    public decimal RequestFee { get; set; }

    /// <summary>Per million tokens written to a 5-minute cache; unset: 1.25 × <see cref="Input"/>.</summary>
    public decimal? CacheWrite5m { get; set; }

    /// <summary>Per million tokens written to a 1-hour cache; unset: 2 × <see cref="Input"/>.</summary>
    public decimal? CacheWrite1h { get; set; }

    /// <summary>Per million reasoning output tokens; unset: <see cref="Output"/>.</summary>
    public decimal? ReasoningOutput { get; set; }

    /// <summary>Per million audio input tokens; unset: <see cref="Input"/>.</summary>
    public decimal? AudioInput { get; set; }

    /// <summary>Per million audio output tokens; unset: <see cref="Output"/>.</summary>
    public decimal? AudioOutput { get; set; }

    /// <summary>Per web-search request.</summary>
    public decimal WebSearchRequest { get; set; }

    /// <summary>Per generated image.</summary>
    public decimal Image { get; set; }

    /// <summary>Above this many input tokens, the whole call is priced at <see cref="LongContext"/>. Unset: no tier.</summary>
    public long? LongContextThreshold { get; set; }

    /// <summary>The token prices above <see cref="LongContextThreshold"/>; unset fields keep this entry's prices.</summary>
    public ServiceTierPriceOptions? LongContext { get; set; }

    /// <summary>Prices by service tier name (<c>batch</c>, <c>flex</c>, <c>priority</c>): a multiplier, overrides, or both.</summary>
    public IDictionary<string, ServiceTierPriceOptions> ServiceTiers { get; } = new Dictionary<string, ServiceTierPriceOptions>(StringComparer.OrdinalIgnoreCase);

    /// <summary>When this price starts to apply (UTC); calls from then on use it. Unset: always.</summary>
    public DateTimeOffset? EffectiveFrom { get; set; }

    /// <summary>Other names for the model.</summary>
    public IList<string> Aliases { get; } = [];
}

/// <summary>
/// Token prices that override a model's standard ones (per million tokens; unset keeps the standard price), and a
/// multiplier of the resulting cost: a service tier, or the long-context tier.
/// </summary>
public sealed class ServiceTierPriceOptions
{
    /// <summary>Multiplies the cost (for example 0.5 for batch); 1 when unset. Not used for the long-context tier.</summary>
    public decimal Multiplier { get; set; } = 1m;

    /// <summary>Per million input tokens.</summary>
    public decimal? Input { get; set; }

    /// <summary>Per million output tokens.</summary>
    public decimal? Output { get; set; }

    /// <summary>Per million cached input tokens.</summary>
    public decimal? CachedInput { get; set; }

    /// <summary>Per million tokens written to a 5-minute cache.</summary>
    public decimal? CacheWrite5m { get; set; }

    /// <summary>Per million tokens written to a 1-hour cache.</summary>
    public decimal? CacheWrite1h { get; set; }

    /// <summary>Per million reasoning output tokens.</summary>
    public decimal? ReasoningOutput { get; set; }
}
