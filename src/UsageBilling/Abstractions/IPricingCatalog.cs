namespace UsageBilling;

/// <summary>Resolves prices. The default implementation reads <see cref="PricingOptions"/> and follows configuration reloads.</summary>
public interface IPricingCatalog
{
    /// <summary>
    /// The flat per-call price named <paramref name="priceName"/> (as used by <c>.WithPrice("name")</c> or
    /// <see cref="MeteredAttribute.PriceName"/>), or <see langword="null"/> if there is none.
    /// </summary>
    ValueTask<Money?> GetEndpointPriceAsync(string priceName, CancellationToken cancellationToken = default);
}
