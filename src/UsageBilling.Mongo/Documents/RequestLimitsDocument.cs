using MongoDB.Bson.Serialization.Attributes;

namespace UsageBilling.Mongo;

/// <summary>A key's <see cref="RequestLimits"/> override, embedded in its <see cref="ApiKeyDocument"/>.</summary>
[BsonIgnoreExtraElements]
internal sealed class RequestLimitsDocument
{
    [BsonElement("rps")]
    [BsonIgnoreIfNull]
    public long? RequestsPerSecond { get; set; }

    [BsonElement("rpm")]
    [BsonIgnoreIfNull]
    public long? RequestsPerMinute { get; set; }

    [BsonElement("rph")]
    [BsonIgnoreIfNull]
    public long? RequestsPerHour { get; set; }

    [BsonElement("rpd")]
    [BsonIgnoreIfNull]
    public long? RequestsPerDay { get; set; }

    [BsonElement("rpmo")]
    [BsonIgnoreIfNull]
    public long? MonthlyRequests { get; set; }

    [BsonElement("tpm")]
    [BsonIgnoreIfNull]
    public long? TokensPerMinute { get; set; }

    public static RequestLimitsDocument? From(RequestLimits? limits) => limits is null ? null : new()
    {
        RequestsPerSecond = limits.RequestsPerSecond,
        RequestsPerMinute = limits.RequestsPerMinute,
        RequestsPerHour = limits.RequestsPerHour,
        RequestsPerDay = limits.RequestsPerDay,
        MonthlyRequests = limits.MonthlyRequests,
        TokensPerMinute = limits.TokensPerMinute,
    };

    public RequestLimits ToLimits() => new()
    {
        RequestsPerSecond = RequestsPerSecond,
        RequestsPerMinute = RequestsPerMinute,
        RequestsPerHour = RequestsPerHour,
        RequestsPerDay = RequestsPerDay,
        MonthlyRequests = MonthlyRequests,
        TokensPerMinute = TokensPerMinute,
    };
}
