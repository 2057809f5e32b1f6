using MongoDB.Bson.Serialization.Attributes;

namespace UsageBilling.Mongo;

/// <summary>An <see cref="ApiKeyRecord"/> in the keys collection; the hash carries a unique index.</summary>
[BsonIgnoreExtraElements]
internal sealed class ApiKeyDocument
{
    [BsonId]
    public string Id { get; set; } = "";

    [BsonElement("acct")]
    public string AccountId { get; set; } = "";

    [BsonElement("name")]
    public string Name { get; set; } = "";

    [BsonElement("pfx")]
    public string DisplayPrefix { get; set; } = "";

    [BsonElement("hash")]
    public string Hash { get; set; } = "";

    [BsonElement("ca")]
    public TimestampDocument CreatedAt { get; set; } = new();

    [BsonElement("exp")]
    [BsonIgnoreIfNull]
    public TimestampDocument? ExpiresAt { get; set; }

    [BsonElement("rev")]
    [BsonIgnoreIfNull]
    public TimestampDocument? RevokedAt { get; set; }

    [BsonElement("used")]
    [BsonIgnoreIfNull]
    public TimestampDocument? LastUsedAt { get; set; }

    [BsonElement("lim")]
    [BsonIgnoreIfNull]
    public RequestLimitsDocument? Limits { get; set; }

    [BsonElement("budget")]
    [BsonIgnoreIfNull]
    public SpendBudgetDocument? Budget { get; set; }

    public static ApiKeyDocument From(ApiKeyRecord key) => new()
    {
        Id = key.Id,
        AccountId = key.AccountId,
        Name = key.Name,
        DisplayPrefix = key.DisplayPrefix,
        Hash = key.Hash,
        CreatedAt = TimestampDocument.From(key.CreatedAt),
        ExpiresAt = TimestampDocument.From(key.ExpiresAt),
        RevokedAt = TimestampDocument.From(key.RevokedAt),
        LastUsedAt = TimestampDocument.From(key.LastUsedAt),
        Limits = RequestLimitsDocument.From(key.Limits),
        Budget = SpendBudgetDocument.From(key.Budget),
    };

    public ApiKeyRecord ToRecord() => new()
    {
        Id = Id,
        AccountId = AccountId,
        Name = Name,
        DisplayPrefix = DisplayPrefix,
        Hash = Hash,
        CreatedAt = CreatedAt.ToDateTimeOffset(),
        ExpiresAt = ExpiresAt?.ToDateTimeOffset(),
        RevokedAt = RevokedAt?.ToDateTimeOffset(),
        LastUsedAt = LastUsedAt?.ToDateTimeOffset(),
        Limits = Limits?.ToLimits(),
        Budget = Budget?.ToBudget(),
    };
}
