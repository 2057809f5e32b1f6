using Microsoft.AspNetCore.Http;

namespace UsageBilling;

/// <summary>The refusals admission can answer, each with its status, problem type, outcome and metric reason.</summary>
internal static class CallRefusals
{
    public static readonly CallRefusal KeyReused = new(StatusCodes.Status422UnprocessableEntity, ProblemTypes.IdempotencyKeyReused, "Idempotency-Key Reused",
        "This Idempotency-Key was already used for a different request (method, path, query or body).", UsageOutcomes.IdempotencyConflict, "idempotency_key_reused");

    public static readonly CallRefusal InProgress = new(StatusCodes.Status409Conflict, ProblemTypes.IdempotencyKeyInProgress, "Request In Progress",
        "A request with this Idempotency-Key is still being processed; retry later.", UsageOutcomes.IdempotencyConflict, "idempotency_key_in_progress");

    public static readonly CallRefusal TooManyAttempts = new(StatusCodes.Status409Conflict, ProblemTypes.IdempotencyKeyInProgress, "Too Many Attempts",
        $"This Idempotency-Key was tried {MeteredCalls.MaxAttempts} times without a billable response; use a new key.", UsageOutcomes.IdempotencyConflict,
        "idempotency_key_exhausted");

    public static readonly CallRefusal InvalidKey = new(StatusCodes.Status400BadRequest, ProblemTypes.InvalidIdempotencyKey, "Invalid Idempotency-Key",
        $"The Idempotency-Key header must be 1 to {IdempotencyRequest.MaxKeyLength} visible ASCII characters.", UsageOutcomes.IdempotencyConflict, "invalid_idempotency_key");

    public static readonly CallRefusal StoreUnavailable = new(StatusCodes.Status503ServiceUnavailable, ProblemTypes.StoreUnavailable, "Service Unavailable",
        "The billing store could not be reached; nothing was charged and the request was not run. Retry later.", UsageOutcomes.Failed, "store_unavailable");

    public static CallRefusal RateLimited(LimitState exceeded, DateTimeOffset now)
        => new(StatusCodes.Status429TooManyRequests, ProblemTypes.RateLimited, "Too Many Requests",
            $"The {exceeded.Policy} limit of {exceeded.Limit} {(exceeded.IsTokens ? "tokens" : "requests")} is used up; retry after {RateLimitHeaders.SecondsUntil(exceeded.ResetAt, now)} s.",
            UsageOutcomes.RateLimited, UsageOutcomes.RateLimited, new Dictionary<string, object?> { ["limit"] = exceeded.Policy, ["resetAt"] = exceeded.ResetAt });

    public static CallRefusal BudgetExceeded(BudgetState over, Money price)
        => new(StatusCodes.Status402PaymentRequired, ProblemTypes.BudgetExceeded, "Budget Exceeded",
            $"The {over.Name} budget of {over.Cap} has {Money.Max(Money.Zero, over.Cap - over.Spent)} left; this call needs {price}. It resets at {over.ResetAt:O}.",
            UsageOutcomes.BudgetExceeded, "budget_exceeded",
            new Dictionary<string, object?> { ["budget"] = over.Name, ["cap"] = over.Cap, ["spent"] = over.Spent, ["required"] = price, ["resetAt"] = over.ResetAt });

    public static CallRefusal InsufficientCredits(Money price, CreditBalance? balance)
        => new(StatusCodes.Status402PaymentRequired, ProblemTypes.InsufficientCredits, "Insufficient Credits",
            $"This call needs {price} but the account has {Money.Max(Money.Zero, balance?.Available ?? Money.Zero)} available.",
            UsageOutcomes.InsufficientCredits, UsageOutcomes.InsufficientCredits,
            new Dictionary<string, object?> { ["required"] = price, ["available"] = balance?.Available });

    /// <summary>A completed call whose response could not be kept (streamed or too large), or is no longer kept: its outcome, never a second run.</summary>
    public static CallRefusal AlreadyCompleted(StoredResponse original)
        => new(StatusCodes.Status409Conflict, ProblemTypes.IdempotencyKeyCompleted, "Request Already Completed",
            "A request with this Idempotency-Key already completed, and its response cannot be replayed (it was streamed, larger than the replay limit, or expired); it was not run again.",
            UsageOutcomes.Replayed, "idempotency_key_completed",
            new Dictionary<string, object?>
            {
                ["originalStatus"] = original.StatusCode == 0 ? null : original.StatusCode,
                ["charged"] = original.Charged,
                ["originalRequestId"] = original.RequestId,
            });
}
