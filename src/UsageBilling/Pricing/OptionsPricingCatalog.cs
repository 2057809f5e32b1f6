using Microsoft.Extensions.Options;

namespace UsageBilling;

/// <summary>The default <see cref="IPricingCatalog"/>: prices from <see cref="PricingOptions"/>, following configuration reloads.</summary>
internal sealed class OptionsPricingCatalog : IPricingCatalog
{
    private readonly IOptionsMonitor<UsageBillingOptions> _options;

    public OptionsPricingCatalog(IOptionsMonitor<UsageBillingOptions> options) => _options = options;

    public ValueTask<Money?> GetEndpointPriceAsync(string priceName, CancellationToken cancellationToken = default)
        => ValueTask.FromResult<Money?>(_options.CurrentValue.Pricing.Endpoints.TryGetValue(priceName, out var units) ? Money.FromUnits(units) : null);
}
