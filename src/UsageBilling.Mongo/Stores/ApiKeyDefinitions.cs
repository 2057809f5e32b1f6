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
