using System.Diagnostics;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace UsageBilling;

/// <summary>What the metering middleware writes for a call that did not run, what it keeps of one that did, and its usage record.</summary>
internal static class CallResponses
{
    /// <summary>Writes a refusal (its problem) or a replay: the stored response, or 409 with the outcome when the response could not be kept.</summary>
    public static Task WriteAsync(HttpContext context, Admission admission, UsageBillingMetrics metrics)
    {
        if (admission.Replay is { Body: { } body } replay)
        {
            context.Response.StatusCode = replay.StatusCode;
            context.Response.ContentType = replay.ContentType;
            context.Response.Headers[IdempotencyRequest.ReplayedHeader] = "true";
            return context.Response.Body.WriteAsync(body).AsTask();
        }

        var refusal = admission.Refusal ?? CallRefusals.AlreadyCompleted(admission.Replay!);
        metrics.RequestRejected(refusal.Reason);
        if (refusal.Type == ProblemTypes.StoreUnavailable)
        {
            context.Response.Headers.RetryAfter = "5";
        }

        return Problems.WriteAsync(context, refusal.Status, refusal.Type, refusal.Title, refusal.Detail, refusal.Extensions);
    }

    /// <summary>
    /// The response to keep for replays of the call's <c>Idempotency-Key</c>: status, content type and body (none for
    /// a stream or a body over the cap: replays then get 409 with the outcome). Nothing for a call that failed or
    /// answered 5xx, so that a retry runs it again.
    /// </summary>
    public static StoredResponse? ToKeep(HttpResponse response, ResponseCapture? capture, CallLease lease, CallResult result, bool failed, string requestId)
    {
        if (capture is null || lease.Request.Idempotency is not { } idempotency || failed || response.StatusCode >= 500)
        {
            return null;
        }

        return new StoredResponse(idempotency.Fingerprint, response.StatusCode, response.ContentType, IsEventStream(response.ContentType) ? null : capture.Body,
            result.Release ? Money.Zero : result.Charge, requestId);
    }

    /// <summary>Whether <paramref name="contentType"/> is a server-sent-event stream (<c>text/event-stream</c>).</summary>
    public static bool IsEventStream(string? contentType) => contentType?.StartsWith("text/event-stream", StringComparison.OrdinalIgnoreCase) == true;

    /// <summary>The usage record of a metered call as it starts.</summary>
    public static UsageRecord StartRecord(HttpContext context, IApiKeyFeature caller, string requestId, string idempotencyKey, DateTimeOffset now) => new()
    {
        RequestId = requestId,
        Timestamp = now,
        KeyId = caller.Key.Id,
        AccountId = caller.Account.Id,
        Method = context.Request.Method,
        Route = (context.GetEndpoint() as RouteEndpoint)?.RoutePattern.RawText ?? context.Request.Path.Value ?? "/",
        StatusCode = 0,
        DurationMs = 0,
        Cost = Money.Zero,
        IdempotencyKey = idempotencyKey.Length > 0 ? idempotencyKey : null,
    };

    /// <summary>What the response says: status (500 for an endpoint that threw before answering), duration, whether the client left.</summary>
    public static CallEnd EndOf(HttpContext context, long started, bool failed = false) => new(
        failed && !context.Response.HasStarted ? StatusCodes.Status500InternalServerError : context.Response.StatusCode,
        Stopwatch.GetElapsedTime(started).TotalMilliseconds,
        context.RequestAborted.IsCancellationRequested);

    /// <summary>The record with what the response says (<see cref="EndOf"/>).</summary>
    public static UsageRecord Finished(HttpContext context, UsageRecord record, long started, bool failed = false)
    {
        var end = EndOf(context, started, failed);
        return record with { StatusCode = end.StatusCode, DurationMs = end.DurationMs, ClientAborted = end.ClientAborted };
    }
}
