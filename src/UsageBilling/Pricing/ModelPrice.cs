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

    /// <summary>When this price started to apply; <see langword="null"/> for "always".</summary>
    public DateTimeOffset? EffectiveFrom { get; init; }
}

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

    /// <summary>When this price starts to apply (UTC); calls from then on use it. Unset: always.</summary>
    public DateTimeOffset? EffectiveFrom { get; set; }

    /// <summary>Other names for the model.</summary>
    public IList<string> Aliases { get; } = [];
}
