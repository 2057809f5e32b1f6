namespace UsageBilling.EntityFrameworkCore;

/// <summary>A row of the usage log.</summary>
internal sealed class UsageRecordEntity
{
    public string RequestId { get; set; } = null!;

    /// <summary>Unix milliseconds: the precision of <see cref="UsageCursor"/>, which pages the log.</summary>
    public long Timestamp { get; set; }

    public string? KeyId { get; set; }

    public string? AccountId { get; set; }

    public string Method { get; set; } = null!;

    public string Route { get; set; } = null!;

    public int StatusCode { get; set; }

    public double DurationMs { get; set; }

    /// <summary>Nano-units.</summary>
    public long Cost { get; set; }

    public string? Outcome { get; set; }

    public string? IdempotencyKey { get; set; }

    public string? Model { get; set; }

    public long? InputTokens { get; set; }

    public long? OutputTokens { get; set; }

    public long? CachedInputTokens { get; set; }

    /// <summary>JSON: <see cref="UsageRecord.CostBreakdown"/>.</summary>
    public string? CostBreakdown { get; set; }

    public bool TokensEstimated { get; set; }

    public bool Streamed { get; set; }

    public bool ClientAborted { get; set; }

    public UsageRecord ToRecord() => new()
    {
        RequestId = RequestId,
        Timestamp = DateTimeOffset.FromUnixTimeMilliseconds(Timestamp),
        KeyId = KeyId,
        AccountId = AccountId,
        Method = Method,
        Route = Route,
        StatusCode = StatusCode,
        DurationMs = DurationMs,
        Cost = new Money(Cost),
        Outcome = Outcome,
        IdempotencyKey = IdempotencyKey,
        Model = Model,
        InputTokens = InputTokens,
        OutputTokens = OutputTokens,
        CachedInputTokens = CachedInputTokens,
        CostBreakdown = CostBreakdown,
        TokensEstimated = TokensEstimated,
        Streamed = Streamed,
        ClientAborted = ClientAborted,
    };
}
