namespace UsageBilling;

/// <summary>Resolves prices. The default implementation reads <see cref="PricingOptions"/> (and its price file) and follows configuration reloads.</summary>
public interface IPricingCatalog
{
    /// <summary>
    /// The flat per-call price named <paramref name="priceName"/> (as used by <c>.WithPrice("name")</c> or
    /// <see cref="MeteredAttribute.PriceName"/>), or <see langword="null"/> if there is none.
    /// </summary>
    ValueTask<Money?> GetEndpointPriceAsync(string priceName, CancellationToken cancellationToken = default);

    /// <summary>
    /// The token price of <paramref name="model"/> in effect at <paramref name="at"/>, after normalising the name (case,
    /// provider prefixes such as <c>openai/</c>, dated snapshots such as <c>-2024-08-06</c>, aliases); <see langword="null"/> if unknown.
    /// </summary>
    ValueTask<ModelPrice?> GetModelPriceAsync(string model, DateTimeOffset at, CancellationToken cancellationToken = default);

    /// <summary>Every priced model with the price in effect at <paramref name="at"/>.</summary>
    ValueTask<IReadOnlyList<ModelPrice>> ListModelPricesAsync(DateTimeOffset at, CancellationToken cancellationToken = default);

    /// <summary>The markup on token prices for <paramref name="plan"/>, in percent (0 for none).</summary>
    ValueTask<decimal> GetPlanMarkupPercentAsync(string plan, CancellationToken cancellationToken = default);
}
