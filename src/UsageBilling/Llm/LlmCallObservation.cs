using Microsoft.AspNetCore.Http;

namespace UsageBilling;

/// <summary>
/// Watches one LLM endpoint's response as it passes (JSON or SSE) and, when the endpoint is done, works out what the
/// call used: reported by the endpoint, read from the response, or counted from what reached the client. A call
/// that delivered something is charged for it even when it failed or the client left.
/// </summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001", Justification = "The observer only wraps the response body, which the server owns; it holds nothing to dispose.")]
internal sealed class LlmCallObservation
{
    private readonly HttpContext _context;
    private readonly LlmEstimate _estimate;
    private readonly LlmUsageFeature _usage = new();
    private readonly LlmUsageAccumulator _accumulator;
    private readonly LlmResponseObserver _observer;
    private readonly Stream _body;
    private readonly LlmMeter _meter;
    private readonly UsageBillingMetrics _metrics;
    private readonly UsageBillingOptions _options;

    public LlmCallObservation(HttpContext context, LlmEstimate estimate, LlmMeter meter, UsageBillingMetrics metrics, UsageBillingOptions options)
    {
        _context = context;
        _estimate = estimate;
        _meter = meter;
        _metrics = metrics;
        _options = options;
        _accumulator = new LlmUsageAccumulator(estimate.Request.Format);
        _body = context.Response.Body;
        _observer = new LlmResponseObserver(_body, context.Response, _accumulator, options.Llm.MaxJsonResponseBytes);
        context.Features.Set<ILlmUsageFeature>(_usage);
        context.Response.Body = _observer;
    }

    /// <summary>Stops watching and prices what the call used.</summary>
    /// <param name="failed">Whether the endpoint threw.</param>
    /// <param name="record">The call's usage record, to which the model and tokens are added.</param>
    /// <param name="now">When the call started (prices are those in effect then).</param>
    public async ValueTask<(CallResult Result, UsageRecord Record)> FinishAsync(bool failed, UsageRecord record, DateTimeOffset now)
    {
        _context.Response.Body = _body;
        _observer.Complete();
        var status = _context.Response.StatusCode;
        var billable = !failed && !_context.RequestAborted.IsCancellationRequested && _options.IsBillableStatusCode(status);
        var delivered = _observer.Started && _options.IsBillableStatusCode(status);
        var settlement = await _meter.SettleAsync(_estimate, _accumulator, _usage, billable, delivered, now, CancellationToken.None).ConfigureAwait(false);
        record = record with
        {
            Model = settlement.Model,
            // The record's input keeps its meaning: every input token not read from a cache (writes included); the breakdown splits them.
            InputTokens = settlement.Usage.InputTokens + settlement.Usage.CacheWriteTokens,
            CachedInputTokens = settlement.Usage.CachedInputTokens,
            OutputTokens = settlement.Usage.OutputTokens,
            TokensEstimated = settlement.Estimated,
            CostBreakdown = settlement.Cost.IsZero ? null : settlement.Breakdown?.ToJson(),
            Streamed = _observer.Streamed || _estimate.Request.Stream,
        };

        var release = settlement.Cost.IsZero && settlement.Usage == default;
        if (release)
        {
            record = record with { Outcome = failed ? UsageOutcomes.Failed : UsageOutcomes.NotCharged };
        }
        else
        {
            _metrics.TokensBilled(settlement.Usage);
        }

        return (new CallResult(settlement.Cost, release, _meter.RateLimitedTokens(settlement.Usage)), record);
    }
}
