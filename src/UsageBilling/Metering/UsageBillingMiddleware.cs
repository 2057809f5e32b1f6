using System.Diagnostics;
using System.Runtime.ExceptionServices;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace UsageBilling;

/// <summary>
/// Meters endpoints that carry <see cref="MeteredAttribute"/> (flat price) or <see cref="MeterLlmUsageAttribute"/> (LLM
/// tokens). It only maps the endpoint to the lifecycle of a metered call: quote (<see cref="CallPricer"/>) → admit
/// (<see cref="MeteredCalls"/>: refused, replayed or a lease) → run the endpoint → complete the lease. Endpoints
/// without the metadata pass straight through.
/// </summary>
internal sealed partial class UsageBillingMiddleware
{
    private static readonly KeptValues<CallReference> References = new(256);

    private readonly RequestDelegate _next;
    private readonly MeteredCalls _calls;
    private readonly CallPricer _pricer;
    private readonly LlmMeter _llm;
    private readonly TimeProvider _timeProvider;
    private readonly UsageBillingMetrics _metrics;
    private readonly IOptionsMonitor<UsageBillingOptions> _options;
    private readonly ILogger<UsageBillingMiddleware> _logger;

    public UsageBillingMiddleware(RequestDelegate next, MeteredCalls calls, CallPricer pricer, LlmMeter llm, TimeProvider timeProvider, UsageBillingMetrics metrics,
        IOptionsMonitor<UsageBillingOptions> options, ILogger<UsageBillingMiddleware> logger)
    {
        _next = next;
        _calls = calls;
        _pricer = pricer;
        _llm = llm;
        _timeProvider = timeProvider;
        _metrics = metrics;
        _options = options;
        _logger = logger;
    }

    public Task InvokeAsync(HttpContext context)
    {
        var metadata = context.GetEndpoint()?.Metadata;
        var llm = metadata?.GetMetadata<MeterLlmUsageAttribute>();
        var flat = llm is null ? metadata?.GetMetadata<MeteredAttribute>() : null;
        return llm is null && flat is null ? _next(context) : InvokeMeteredAsync(context, flat, llm);
    }

    private async Task InvokeMeteredAsync(HttpContext context, MeteredAttribute? flat, MeterLlmUsageAttribute? llm)
    {
        var started = Stopwatch.GetTimestamp();
        var now = _timeProvider.GetUtcNow();
        if (context.Features.Get<IApiKeyFeature>() is null)
        {
            // The app's default scheme may be another one: authenticate with ours explicitly.
            await context.AuthenticateAsync(ApiKeyDefaults.AuthenticationScheme).ConfigureAwait(false);
        }

        if (context.Features.Get<IApiKeyFeature>() is not { } caller)
        {
            _metrics.RequestRejected("unauthenticated");
            await context.ChallengeAsync(ApiKeyDefaults.AuthenticationScheme).ConfigureAwait(false);
            return;
        }

        _metrics.RequestMetered();
        using var span = UsageBillingActivitySource.Source.StartActivity(UsageBillingActivitySource.MeteredCall);
        span?.SetTag("usagebilling.account_id", caller.Account.Id).SetTag("usagebilling.key_id", caller.Key.Id);
        var request = context.Request;
        var key = request.Headers[IdempotencyRequest.Header].ToString();
        var record = CallResponses.StartRecord(context, caller, BillingIds.New("req", _timeProvider), key, now);
        span?.SetTag("usagebilling.request_id", record.RequestId);
        Admission admission;
        CallQuote? quote = null;
        try
        {
            PricedCall priced;
            using (UsageBillingActivitySource.Source.StartActivity(UsageBillingActivitySource.Quote))
            {
                priced = key.Length > 0 && !IdempotencyRequest.IsValidKey(key) ? default : await _pricer.QuoteAsync(context, flat, llm, caller, now).ConfigureAwait(false);
            }

            if (priced.Outcome is { } unpriced)
            {
                await _calls.RecordAsync(CallResponses.Finished(context, record with { Outcome = unpriced }, started)).ConfigureAwait(false);
                return;
            }

            quote = priced.Quote;
            using var admit = UsageBillingActivitySource.Source.StartActivity(UsageBillingActivitySource.Admit);
            admission = quote is null ? Admission.Refused(CallRefusals.InvalidKey) : await _calls.AdmitAsync(new CallRequest(caller, quote,
                PlanLimits.For(_options.CurrentValue, caller.Account.Plan, caller.Key), record.RequestId, ReferenceOf(request.Method, request.Path.Value ?? ""),
                key.Length > 0 ? await IdempotencyRequest.ReadAsync(request, key, context.RequestAborted).ConfigureAwait(false) : null, now), context.RequestAborted).ConfigureAwait(false);
        }
        catch (Exception ex) when (!context.RequestAborted.IsCancellationRequested && !context.Response.HasStarted)
        {
            // Nothing is counted or held (admission gives back what it took) and the endpoint did not run.
            Log.StoreUnavailable(_logger, ex, record.RequestId);
            admission = Admission.Refused(CallRefusals.StoreUnavailable);
        }

        _metrics.MeteringPhase("admit", started);
        span?.SetTag("usagebilling.admission", admission.Lease is not null ? "admitted" : admission.Refusal is null ? "replayed" : "refused");
        RateLimitHeaders.Apply(context.Response, admission.Counts.Limits, now);
        if (admission.Lease is not { } lease)
        {
            await CallResponses.WriteAsync(context, admission, _metrics).ConfigureAwait(false);
            var outcome = admission.Refusal?.Outcome ?? UsageOutcomes.Replayed;
            await _calls.RecordAsync(CallResponses.Finished(context, record with { Outcome = outcome, Model = quote?.Llm?.Price.Model }, started)).ConfigureAwait(false);
            return;
        }

        await using (lease.ConfigureAwait(false))
        {
            await RunAsync(context, lease, record, started, now).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// A call's reference, <c>{method} {path}</c>, which its hold and its charge keep: the same text for every call of an
    /// endpoint without route values, so kept (and shared) rather than made for each call.
    /// </summary>
    internal static string ReferenceOf(string method, string path)
        => References.Get(HashCode.Combine(method, path), (Method: method, Path: path),
            static (kept, call) => string.Equals(kept.Method, call.Method, StringComparison.Ordinal) && string.Equals(kept.Path, call.Path, StringComparison.Ordinal),
            static call => new CallReference(call.Method, call.Path, string.Concat(call.Method, " ", call.Path))).Text;

    /// <summary>Runs the endpoint under the lease and completes it; a flat endpoint that threw is not completed, so disposing the lease gives everything back.</summary>
    private async Task RunAsync(HttpContext context, CallLease lease, UsageRecord record, long started, DateTimeOffset now)
    {
        var options = _options.CurrentValue;

        // Waiting for the charge: the response leaves after it, even when the endpoint flushes (HeldResponse).
        var held = options.Credits.WaitForCharge ? HeldResponse.Hold(context) : null;
        try
        {
            var capture = lease.Request.Idempotency is null ? null : new ResponseCapture(context.Response.Body, options.Idempotency.MaxResponseBytes);
            if (capture is not null)
            {
                // Only then: setting Body at all (even to itself) puts a stream adapter in front of the server's own pipe.
                context.Response.Body = capture;
            }

            var observation = lease.Request.Quote.Llm is { } estimate ? new LlmCallObservation(context, estimate, _llm, _metrics, options) : null;
            ExceptionDispatchInfo? failure = null;
            try
            {
                await _next(context).ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                failure = ExceptionDispatchInfo.Capture(ex);
            }

            if (capture is not null)
            {
                context.Response.Body = capture.Inner;
            }

            var (result, finished) = observation is not null
                ? await observation.FinishAsync(failure is not null, record, now).ConfigureAwait(false)
                : (new CallResult(lease.Request.Quote.Amount, !options.IsBillableStatusCode(context.Response.StatusCode)), record);
            if (observation is not null || failure is null)
            {
                var keep = CallResponses.ToKeep(context.Response, capture, lease, result, failure is not null, record.RequestId);
                var end = CallResponses.EndOf(context, started, failure is not null);
                var completing = Stopwatch.GetTimestamp();
                using (UsageBillingActivitySource.Source.StartActivity(UsageBillingActivitySource.Complete))
                {
                    await lease.CompleteAsync(result with { Response = keep }, finished, end).ConfigureAwait(false);
                }

                _metrics.MeteringPhase("complete", completing);
            }
            else
            {
                await _calls.RecordAsync(CallResponses.Finished(context, finished, started, failed: true) with { Outcome = UsageOutcomes.Failed }).ConfigureAwait(false);
            }

            failure?.Throw();
        }
        finally
        {
            held?.Release();
        }
    }

    private sealed record CallReference(string Method, string Path, string Text);

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Error, "Admitting request {RequestId} failed in a billing store; answered 503, nothing was charged or served.", EventName = "StoreUnavailable")]
        public static partial void StoreUnavailable(ILogger logger, Exception exception, string requestId);
    }
}
