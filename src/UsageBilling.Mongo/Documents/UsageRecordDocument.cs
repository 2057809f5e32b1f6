using MongoDB.Bson.Serialization.Attributes;

namespace UsageBilling.Mongo;

/// <summary>
/// A <see cref="UsageRecord"/> in the usage collection. The request id is the <c>_id</c>, so a retried batch cannot
/// store a record twice. <see cref="UnixMilliseconds"/> is what queries sort and page on (the precision of
/// <see cref="UsageCursor"/>); <see cref="Timestamp"/> keeps the exact value and filters periods exactly.
/// </summary>
[BsonIgnoreExtraElements]
internal sealed class UsageRecordDocument
{
    [BsonId]
    public string RequestId { get; set; } = "";

    [BsonElement("ts")]
    public long UnixMilliseconds { get; set; }

    [BsonElement("at")]
    public TimestampDocument Timestamp { get; set; } = new();

    [BsonElement("kid")]
    [BsonIgnoreIfNull]
    public string? KeyId { get; set; }

    [BsonElement("acct")]
    [BsonIgnoreIfNull]
    public string? AccountId { get; set; }

    [BsonElement("m")]
    public string Method { get; set; } = "";

    [BsonElement("route")]
    public string Route { get; set; } = "";

    [BsonElement("sc")]
    public int StatusCode { get; set; }

    [BsonElement("dur")]
    public double DurationMs { get; set; }

    /// <summary>Nano-units (<see cref="Money.Nanos"/>).</summary>
    [BsonElement("cost")]
    public long Cost { get; set; }

    [BsonElement("out")]
    [BsonIgnoreIfNull]
    public string? Outcome { get; set; }

    [BsonElement("idem")]
    [BsonIgnoreIfNull]
    public string? IdempotencyKey { get; set; }

    [BsonElement("model")]
    [BsonIgnoreIfNull]
    public string? Model { get; set; }

    [BsonElement("in")]
    [BsonIgnoreIfNull]
    public long? InputTokens { get; set; }

    [BsonElement("outTok")]
    [BsonIgnoreIfNull]
    public long? OutputTokens { get; set; }

    [BsonElement("cached")]
    [BsonIgnoreIfNull]
    public long? CachedInputTokens { get; set; }

    [BsonElement("costParts")]
    [BsonIgnoreIfNull]
    public string? CostBreakdown { get; set; }

    [BsonElement("est")]
    public bool TokensEstimated { get; set; }

    [BsonElement("stream")]
    public bool Streamed { get; set; }

    [BsonElement("abort")]
    public bool ClientAborted { get; set; }

    public static UsageRecordDocument From(UsageRecord record) => new()
    {
        RequestId = record.RequestId,
        UnixMilliseconds = record.Timestamp.ToUnixTimeMilliseconds(),
        Timestamp = TimestampDocument.From(record.Timestamp),
        KeyId = record.KeyId,
        AccountId = record.AccountId,
        Method = record.Method,
        Route = record.Route,
        StatusCode = record.StatusCode,
        DurationMs = record.DurationMs,
        Cost = record.Cost.Nanos,
        Outcome = record.Outcome,
        IdempotencyKey = record.IdempotencyKey,
        Model = record.Model,
        InputTokens = record.InputTokens,
        OutputTokens = record.OutputTokens,
        CachedInputTokens = record.CachedInputTokens,
        CostBreakdown = record.CostBreakdown,
        TokensEstimated = record.TokensEstimated,
        Streamed = record.Streamed,
        ClientAborted = record.ClientAborted,
    };

    public UsageRecord ToRecord() => new()
    {
        RequestId = RequestId,
        Timestamp = Timestamp.ToDateTimeOffset(),
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
