using MongoDB.Bson.Serialization.Attributes;

namespace UsageBilling.Mongo;

/// <summary>
/// A <see cref="ProviderKey"/> in the provider keys collection; a unique index on (account, provider) keeps one key
/// per provider per account. Only the Data Protection payload is stored, never the key itself.
/// </summary>
[BsonIgnoreExtraElements]
internal sealed class ProviderKeyDocument
{
    [BsonId]
    public string Id { get; set; } = "";

    [BsonElement("acct")]
    public string AccountId { get; set; } = "";

    [BsonElement("prov")]
    public string Provider { get; set; } = "";

    [BsonElement("pkey")]
    public string ProtectedKey { get; set; } = "";

    [BsonElement("mask")]
    public string Masked { get; set; } = "";

    [BsonElement("en")]
    public bool Enabled { get; set; }

    [BsonElement("ca")]
    public TimestampDocument CreatedAt { get; set; } = new();

    [BsonElement("ua")]
    public TimestampDocument UpdatedAt { get; set; } = new();

    public static ProviderKeyDocument From(ProviderKey key) => new()
    {
        Id = key.Id,
        AccountId = key.AccountId,
        Provider = key.Provider,
        ProtectedKey = key.ProtectedKey,
        Masked = key.Masked,
        Enabled = key.Enabled,
        CreatedAt = TimestampDocument.From(key.CreatedAt),
        UpdatedAt = TimestampDocument.From(key.UpdatedAt),
    };

    public ProviderKey ToKey() => new()
    {
        Id = Id,
        AccountId = AccountId,
        Provider = Provider,
        ProtectedKey = ProtectedKey,
        Masked = Masked,
        Enabled = Enabled,
        CreatedAt = CreatedAt.ToDateTimeOffset(),
        UpdatedAt = UpdatedAt.ToDateTimeOffset(),
    };
}
