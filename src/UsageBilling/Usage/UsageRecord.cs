namespace UsageBilling;

/// <summary>One metered request as written to the usage log.</summary>
public sealed record UsageRecord
{
    /// <summary>A unique id for the request; the usage log stores each id once.</summary>
    public required string RequestId { get; init; }

    /// <summary>When the request started.</summary>
    public required DateTimeOffset Timestamp { get; init; }

    /// <summary>The API key used, if the caller was identified.</summary>
    public string? KeyId { get; init; }

    /// <summary>The account billed, if the caller was identified.</summary>
    public string? AccountId { get; init; }

    /// <summary>The HTTP method.</summary>
    public required string Method { get; init; }

    /// <summary>The endpoint's route pattern (for example <c>/v1/reports/{id}</c>), or the path when there is none.</summary>
    public required string Route { get; init; }

    /// <summary>The response status code.</summary>
    public required int StatusCode { get; init; }

    /// <summary>How long the request took in milliseconds.</summary>
    public required double DurationMs { get; init; }

    /// <summary>What the request was charged.</summary>
    public required Money Cost { get; init; }

    /// <summary>Why the request was not served or not charged, if so (see <see cref="UsageOutcomes"/>).</summary>
    public string? Outcome { get; init; }

    /// <summary>The <c>Idempotency-Key</c> the caller sent, if any.</summary>
    public string? IdempotencyKey { get; init; }

    /// <summary>The LLM model billed, for token-metered requests.</summary>
    public string? Model { get; init; }

    /// <summary>Input (prompt) tokens, for token-metered requests.</summary>
    public long? InputTokens { get; init; }

    /// <summary>Output (completion) tokens, for token-metered requests.</summary>
    public long? OutputTokens { get; init; }

    /// <summary>Cached input tokens, for token-metered requests.</summary>
    public long? CachedInputTokens { get; init; }

    /// <summary>
    /// What the cost is made of, per price dimension, as compact JSON, for
    /// token-metered requests; <see langword="null"/> otherwise.
    /// </summary>
    public string? CostBreakdown { get; init; }

    /// <summary>Whether token counts were estimated with a tokenizer rather than reported by the model.</summary>
    public bool TokensEstimated { get; init; }

    /// <summary>Whether the response was streamed.</summary>
    public bool Streamed { get; init; }

    /// <summary>Whether the client disconnected before the response completed.</summary>
    public bool ClientAborted { get; init; }
}

/// <summary>Well-known values of <see cref="UsageRecord.Outcome"/>.</summary>
public static class UsageOutcomes
{
    /// <summary>Served and charged.</summary>
    public const string Charged = "charged";

    /// <summary>Served, but the response status is not billable, so nothing was charged.</summary>
    public const string NotCharged = "not_charged";

    /// <summary>A replay of an earlier request with the same <c>Idempotency-Key</c>; not charged again.</summary>
    public const string Replayed = "replayed";

    /// <summary>Refused by a rate limit or quota (429).</summary>
    public const string RateLimited = "rate_limited";

    /// <summary>Refused because a spend budget would be exceeded (402).</summary>
    public const string BudgetExceeded = "budget_exceeded";

    /// <summary>Refused for lack of credit (402).</summary>
    public const string InsufficientCredits = "insufficient_credits";

    /// <summary>Refused because of an <c>Idempotency-Key</c> conflict (409 or 422) or a bad key (400).</summary>
    public const string IdempotencyConflict = "idempotency_conflict";

    /// <summary>Refused for bad input before anything was reserved (for example a malformed LLM request or an unknown model).</summary>
    public const string Rejected = "rejected";

    /// <summary>The endpoint threw; the hold was released.</summary>
    public const string Failed = "failed";
}

/// <summary>Filters for reading the usage log.</summary>
public sealed record UsageQuery
{
    /// <summary>Only this account's records.</summary>
    public string? AccountId { get; init; }

    /// <summary>Only this key's records.</summary>
    public string? KeyId { get; init; }

    /// <summary>Only records at or after this time.</summary>
    public DateTimeOffset? From { get; init; }

    /// <summary>Only records before this time.</summary>
    public DateTimeOffset? To { get; init; }

    /// <summary>The largest number of records to return.</summary>
    public int Limit { get; init; } = 100;

    /// <summary>A <see cref="UsagePage.NextCursor"/> from the previous page.</summary>
    public string? Cursor { get; init; }
}

/// <summary>A page of usage records, newest first.</summary>
/// <param name="Records">The records on this page.</param>
/// <param name="NextCursor">Pass this as <see cref="UsageQuery.Cursor"/> for the next (older) page; <see langword="null"/> on the last.</param>
public sealed record UsagePage(IReadOnlyList<UsageRecord> Records, string? NextCursor);
