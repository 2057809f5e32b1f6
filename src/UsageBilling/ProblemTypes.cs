namespace UsageBilling;

/// <summary>The stable <c>type</c> URIs of the RFC 9457 problem details UsageBilling returns.</summary>
public static class ProblemTypes
{
    private const string Prefix = "urn:usagebilling:problem:";

    /// <summary>No API key was presented (401).</summary>
    public const string MissingApiKey = Prefix + "missing-api-key";

    /// <summary>The key is malformed, unknown, revoked or expired (401).</summary>
    public const string InvalidApiKey = Prefix + "invalid-api-key";

    /// <summary>The key may not use this endpoint (403).</summary>
    public const string Forbidden = Prefix + "forbidden";

    /// <summary>A rate limit or quota was hit (429).</summary>
    public const string RateLimited = Prefix + "rate-limited";

    /// <summary>The account's available credit does not cover the call (402).</summary>
    public const string InsufficientCredits = Prefix + "insufficient-credits";

    /// <summary>A ledger post would take the balance past <see cref="CreditBalance.MaxBalance"/> (409); nothing moved.</summary>
    public const string BalanceLimitExceeded = Prefix + "balance-limit-exceeded";

    /// <summary>A spend budget of the account or key would be exceeded (402); the problem names the budget.</summary>
    public const string BudgetExceeded = Prefix + "budget-exceeded";

    /// <summary>The <c>Idempotency-Key</c> header is not valid (400).</summary>
    public const string InvalidIdempotencyKey = Prefix + "invalid-idempotency-key";

    /// <summary>The <c>Idempotency-Key</c> was used for another request (422).</summary>
    public const string IdempotencyKeyReused = Prefix + "idempotency-key-reused";

    /// <summary>A request with the same <c>Idempotency-Key</c> is still in progress (409).</summary>
    public const string IdempotencyKeyInProgress = Prefix + "idempotency-key-in-progress";

    /// <summary>
    /// A request with this <c>Idempotency-Key</c> already completed and its response cannot be replayed (streamed,
    /// larger than the replay limit, or no longer kept); it was not run again. The problem carries
    /// <c>originalStatus</c>, <c>charged</c> and <c>originalRequestId</c> (409).
    /// </summary>
    public const string IdempotencyKeyCompleted = Prefix + "idempotency-key-completed";

    /// <summary>A billing store (credits, counters) could not be reached; nothing was charged and the endpoint did not run (503, with <c>Retry-After</c>).</summary>
    public const string StoreUnavailable = Prefix + "store-unavailable";

    /// <summary>The LLM request names a model that has no price (400, under <see cref="UnknownModelPolicy.Reject"/>).</summary>
    public const string UnknownModel = Prefix + "unknown-model";

    /// <summary>The caller's plan does not include the requested model (403).</summary>
    public const string ModelNotInPlan = Prefix + "model-not-in-plan";

    /// <summary>The price multiplier header names no configured level (400).</summary>
    public const string UnknownMultiplier = Prefix + "unknown-multiplier";

    /// <summary>The LLM request body is malformed or misses its model (400).</summary>
    public const string InvalidLlmRequest = Prefix + "invalid-llm-request";

    /// <summary>The request body is larger than UsageBilling will parse (413).</summary>
    public const string RequestTooLarge = Prefix + "request-too-large";

    /// <summary>The usage-ingest bearer token is missing or wrong (401).</summary>
    public const string InvalidIngestToken = Prefix + "invalid-ingest-token";

    /// <summary>The request body or query is not valid (400).</summary>
    public const string ValidationFailed = Prefix + "validation-failed";

    /// <summary>The resource does not exist (404).</summary>
    public const string NotFound = Prefix + "not-found";

    /// <summary>The endpoint is metered but no price is configured for it (500, a configuration error).</summary>
    public const string PriceNotConfigured = Prefix + "price-not-configured";
}
