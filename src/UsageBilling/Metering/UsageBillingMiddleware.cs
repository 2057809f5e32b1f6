using System.Diagnostics;
using System.Runtime.ExceptionServices;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
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
        var request = context.Request;
        var options = _options.CurrentValue;
        var key = request.Headers[IdempotencyRequest.Header].ToString();
        var record = new UsageRecord
        {
            RequestId = BillingIds.New("req", _timeProvider), Timestamp = now, KeyId = caller.Key.Id, AccountId = caller.Account.Id, Method = request.Method,
            Route = (context.GetEndpoint() as RouteEndpoint)?.RoutePattern.RawText ?? request.Path.Value ?? "/", StatusCode = 0, DurationMs = 0, Cost = Money.Zero,
            IdempotencyKey = key.Length > 0 ? key : null,
        };

        Admission admission;
        CallQuote? quote = null;
        try
        {
            if (key.Length > 0 && !IdempotencyRequest.IsValidKey(key))
            {
                admission = Admission.Refused(CallRefusals.InvalidKey);
            }
            else
            {
                var priced = await _pricer.QuoteAsync(context, flat, llm, caller, now).ConfigureAwait(false);
                if (priced.Quote is null)
                {
                    await _calls.RecordAsync(Finished(context, record with { Outcome = priced.Outcome }, started)).ConfigureAwait(false);
                    return;
                }

                quote = priced.Quote;
                var idempotency = key.Length > 0 ? await IdempotencyRequest.ReadAsync(request, key, context.RequestAborted).ConfigureAwait(false) : (IdempotencyRequest?)null;
                var call = new CallRequest(caller, quote, PlanLimits.For(options, caller.Account.Plan, caller.Key), record.RequestId,
                    string.Concat(request.Method, " ", request.Path.Value), idempotency, now);
                admission = await _calls.AdmitAsync(call, context.RequestAborted).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (!context.RequestAborted.IsCancellationRequested && !context.Response.HasStarted)
        {
            // Nothing is counted or held (admission gives back what it took) and the endpoint did not run.
            Log.StoreUnavailable(_logger, ex, record.RequestId);
            admission = Admission.Refused(CallRefusals.StoreUnavailable);
        }

        RateLimitHeaders.Apply(context.Response, admission.Counts.Limits, now);
        if (admission.Lease is not { } lease)
        {
            await AnswerAsync(context, admission).ConfigureAwait(false);
            var outcome = admission.Refusal?.Outcome ?? UsageOutcomes.Replayed;
            await _calls.RecordAsync(Finished(context, record with { Outcome = outcome, Model = quote?.Llm?.Price.Model }, started)).ConfigureAwait(false);
            return;
        }

        await using (lease.ConfigureAwait(false))
        {
            var capture = key.Length > 0 ? new ResponseCapture(context.Response.Body, options.Idempotency.MaxResponseBytes) : null;
            var body = context.Response.Body;
            context.Response.Body = capture ?? body;
            var observation = quote!.Llm is { } estimate ? new LlmCallObservation(context, estimate, _llm, _metrics, options) : null;
            ExceptionDispatchInfo? failure = null;
            try
            {
                await _next(context).ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                failure = ExceptionDispatchInfo.Capture(ex);
            }

            context.Response.Body = body;
            var (result, llmRecord) = observation is not null
                ? await observation.FinishAsync(failure is not null, record, now).ConfigureAwait(false)
                : (new CallResult(quote.Amount, !options.IsBillableStatusCode(context.Response.StatusCode)), record);
            if (observation is not null || failure is null)
            {
                // A flat endpoint that threw is not completed: disposing the lease gives everything back.
                var status = context.Response.StatusCode;
                var keep = capture is null || failure is not null || status >= 500 ? null
                    : new StoredResponse(lease.Request.Idempotency!.Value.Fingerprint, status, context.Response.ContentType,
                        IsStream(context.Response) ? null : capture.Body, result.Release ? Money.Zero : result.Charge, record.RequestId);
                await lease.CompleteAsync(result with { Response = keep }, Finished(context, llmRecord, started, failure is not null)).ConfigureAwait(false);
            }
            else
            {
                await _calls.RecordAsync(Finished(context, record with { Outcome = UsageOutcomes.Failed }, started, failed: true)).ConfigureAwait(false);
            }

            failure?.Throw();
        }
    }

    /// <summary>Writes a refusal (with its problem) or a replay (the stored response, or 409 with the outcome when it could not be kept).</summary>
    private Task AnswerAsync(HttpContext context, Admission admission)
    {
        if (admission.Replay is { Body: { } body } replay)
        {
            context.Response.StatusCode = replay.StatusCode;
            context.Response.ContentType = replay.ContentType;
            context.Response.Headers[IdempotencyRequest.ReplayedHeader] = "true";
            return context.Response.Body.WriteAsync(body).AsTask();
        }

        var refusal = admission.Refusal ?? CallRefusals.AlreadyCompleted(admission.Replay!);
        _metrics.RequestRejected(refusal.Reason);
        if (refusal.Type == ProblemTypes.StoreUnavailable)
        {
            context.Response.Headers.RetryAfter = "5";
        }

        return Problems.WriteAsync(context, refusal.Status, refusal.Type, refusal.Title, refusal.Detail, refusal.Extensions);
    }

    private static bool IsStream(HttpResponse response) => response.ContentType?.StartsWith("text/event-stream", StringComparison.OrdinalIgnoreCase) == true;

    private static UsageRecord Finished(HttpContext context, UsageRecord record, long started, bool failed = false) => record with
    {
        StatusCode = failed && !context.Response.HasStarted ? StatusCodes.Status500InternalServerError : context.Response.StatusCode,
        DurationMs = Stopwatch.GetElapsedTime(started).TotalMilliseconds,
        ClientAborted = context.RequestAborted.IsCancellationRequested,
    };

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Error, "Admitting request {RequestId} failed in a billing store; answered 503, nothing was charged or served.", EventName = "StoreUnavailable")]
        public static partial void StoreUnavailable(ILogger logger, Exception exception, string requestId);
    }
}
