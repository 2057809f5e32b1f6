using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace UsageBilling;

/// <summary>A call's price before it runs, or why it has none (the problem was written to the response).</summary>
/// <param name="Quote">The price, when the call can be priced.</param>
/// <param name="Outcome">The usage-log outcome of a call that could not be priced.</param>
internal readonly record struct PricedCall(CallQuote? Quote, string? Outcome);

/// <summary>
/// Turns an endpoint's metering metadata and the request into a <see cref="CallQuote"/>: a flat price (no store I/O),
/// times the request's price level; or for LLM endpoints an estimate of the largest cost the request allows, with the
/// account's own provider key (then only the platform fee) when it has one. Bad input is answered with a 4xx problem.
/// </summary>
internal sealed partial class CallPricer
{
    private readonly IPricingCatalog _pricing;
    private readonly LlmMeter _llm;
    private readonly ProviderKeyManager _providerKeys;
    private readonly UsageBillingMetrics _metrics;
    private readonly IOptionsMonitor<UsageBillingOptions> _options;
    private readonly ILogger<CallPricer> _logger;

    public CallPricer(IPricingCatalog pricing, LlmMeter llm, ProviderKeyManager providerKeys, UsageBillingMetrics metrics, IOptionsMonitor<UsageBillingOptions> options,
        ILogger<CallPricer> logger)
    {
        _pricing = pricing;
        _llm = llm;
        _providerKeys = providerKeys;
        _metrics = metrics;
        _options = options;
        _logger = logger;
    }

    public async ValueTask<PricedCall> QuoteAsync(HttpContext context, MeteredAttribute? flat, MeterLlmUsageAttribute? llm, IApiKeyFeature caller, DateTimeOffset now)
    {
        var options = _options.CurrentValue;
        var multiplier = 1m;
        var level = context.Request.Headers[options.Pricing.MultiplierHeader].ToString();
        if (level.Length > 0 && !options.Pricing.Multipliers.TryGetValue(level, out multiplier))
        {
            _metrics.RequestRejected("unknown_multiplier");
            await Problems.WriteAsync(context, StatusCodes.Status400BadRequest, ProblemTypes.UnknownMultiplier, "Unknown Price Level",
                $"'{level}' is not a price level; use one of: {string.Join(", ", options.Pricing.Multipliers.Keys)}.").ConfigureAwait(false);
            return new PricedCall(null, UsageOutcomes.Rejected);
        }

        if (llm is not null)
        {
            var ownKey = llm.Provider is { } provider
                ? await _providerKeys.GetActiveKeyAsync(caller.Account.Id, provider, context.RequestAborted).ConfigureAwait(false)
                : null;
            var estimate = await _llm.EstimateAsync(context, llm, caller.Account, ownKey is null ? multiplier : 1m, ownKey is not null, now).ConfigureAwait(false);
            if (estimate is null)
            {
                return new PricedCall(null, UsageOutcomes.Rejected);
            }

            if (ownKey is not null)
            {
                context.Features.Set<IProviderKeyFeature>(new ProviderKeyFeature(ProviderKeyManager.NormalizeProvider(llm.Provider)!, ownKey));
            }

            return new PricedCall(new CallQuote(estimate.ReserveAmount, estimate), null);
        }

        var price = flat!.Cost ?? (flat.PriceName is { } name ? await _pricing.GetEndpointPriceAsync(name, context.RequestAborted).ConfigureAwait(false) : null);
        if (price is not { } flatPrice)
        {
            var route = (context.GetEndpoint() as Microsoft.AspNetCore.Routing.RouteEndpoint)?.RoutePattern.RawText ?? context.Request.Path.Value ?? "/";
            Log.PriceMissing(_logger, flat.PriceName, route);
            _metrics.RequestRejected("price_not_configured");
            await Problems.WriteAsync(context, StatusCodes.Status500InternalServerError, ProblemTypes.PriceNotConfigured, "Price Not Configured",
                "This endpoint is metered but has no price configured; nothing was charged.").ConfigureAwait(false);
            return new PricedCall(null, UsageOutcomes.Failed);
        }

        return new PricedCall(new CallQuote(multiplier == 1m ? flatPrice : new Money((long)decimal.Ceiling(flatPrice.Nanos * multiplier))), null);
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Error, "Endpoint {Route} is metered with price name '{PriceName}', but no such price is configured.", EventName = "PriceNotConfigured")]
        public static partial void PriceMissing(ILogger logger, string? priceName, string route);
    }
}
