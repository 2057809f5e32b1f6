using MongoDB.Bson;
using MongoDB.Driver;

namespace UsageBilling.Mongo;

/// <summary>The filters and updates of <see cref="MongoApiKeyStore"/>, built here so tests can render them.</summary>
internal static class ApiKeyDefinitions
{
    private static FilterDefinitionBuilder<ApiKeyDocument> Filter => Builders<ApiKeyDocument>.Filter;

    public static FilterDefinition<ApiKeyDocument> ById(string keyId) => Filter.Eq(d => d.Id, keyId);

    public static FilterDefinition<ApiKeyDocument> ByHash(string hash) => Filter.Eq(d => d.Hash, hash);

    public static FilterDefinition<ApiKeyDocument> ByAccount(string accountId) => Filter.Eq(d => d.AccountId, accountId);

    /// <summary>Keys after <paramref name="afterId"/> (all when <see langword="null"/>), for paging in id order.</summary>
    public static FilterDefinition<ApiKeyDocument> After(string? afterId) => afterId is null ? Filter.Empty : Filter.Gt(d => d.Id, afterId);

    public static SortDefinition<ApiKeyDocument> IdOrder { get; } = Builders<ApiKeyDocument>.Sort.Ascending(d => d.Id);

    /// <summary>Replaces name, expiry, limits and budget only: hash, account, creation, revocation and last use stay as stored.</summary>
    public static UpdateDefinition<ApiKeyDocument> Update(ApiKeyRecord key)
    {
        ArgumentNullException.ThrowIfNull(key);
        var update = Builders<ApiKeyDocument>.Update.Set(d => d.Name, key.Name);
        update = key.ExpiresAt is null ? update.Unset(d => d.ExpiresAt) : update.Set(d => d.ExpiresAt, TimestampDocument.From(key.ExpiresAt.Value));
        update = key.Limits is null ? update.Unset(d => d.Limits) : update.Set(d => d.Limits, RequestLimitsDocument.From(key.Limits));
        return key.Budget is null ? update.Unset(d => d.Budget) : update.Set(d => d.Budget, SpendBudgetDocument.From(key.Budget));
    }

    public static SortDefinition<ApiKeyDocument> OldestFirst { get; } =
        Builders<ApiKeyDocument>.Sort.Ascending(d => d.CreatedAt.UtcTicks).Ascending(d => d.Id);

    /// <summary>Sets the revocation time only if there is none yet, in one atomic update: <c>$ifNull</c> keeps the first.</summary>
    public static UpdateDefinition<ApiKeyDocument> Revoke(DateTimeOffset revokedAt)
    {
        var value = TimestampDocument.From(revokedAt).ToBsonDocument();
        return new PipelineUpdateDefinition<ApiKeyDocument>(new BsonDocument[]
        {
            new("$set", new BsonDocument("rev", new BsonDocument("$ifNull", new BsonArray { "$rev", new BsonDocument("$literal", value) }))),
        });
    }

    /// <summary>Matches the key only while its last use is missing or earlier, so the time never moves backwards.</summary>
    public static FilterDefinition<ApiKeyDocument> TouchableBefore(string keyId, DateTimeOffset usedAt)
        => Filter.And(
            ById(keyId),
            Filter.Or(Filter.Eq(d => d.LastUsedAt, null), Filter.Lt(d => d.LastUsedAt!.UtcTicks, usedAt.UtcTicks)));

    public static UpdateDefinition<ApiKeyDocument> Touch(DateTimeOffset usedAt)
        => Builders<ApiKeyDocument>.Update.Set(d => d.LastUsedAt, TimestampDocument.From(usedAt));
}
