using MongoDB.Driver;

namespace UsageBilling.Mongo;

/// <summary>The filters and updates of <see cref="MongoProviderKeyStore"/>, built here so tests can render them.</summary>
internal static class ProviderKeyDefinitions
{
    private static FilterDefinitionBuilder<ProviderKeyDocument> Filter => Builders<ProviderKeyDocument>.Filter;

    /// <summary>The account's key for a provider: the fields of the unique index, so an upsert inserts them too.</summary>
    public static FilterDefinition<ProviderKeyDocument> ByAccountAndProvider(string accountId, string provider)
        => Filter.And(Filter.Eq(d => d.AccountId, accountId), Filter.Eq(d => d.Provider, provider));

    public static FilterDefinition<ProviderKeyDocument> ByAccount(string accountId) => Filter.Eq(d => d.AccountId, accountId);

    public static SortDefinition<ProviderKeyDocument> ByProvider { get; } = Builders<ProviderKeyDocument>.Sort.Ascending(d => d.Provider);

    /// <summary>
    /// Replaces the payload, mask, enabled flag and update time; the id and creation time are written only when the
    /// upsert inserts, so a replacement keeps the original ones. Account and provider come from the filter.
    /// </summary>
    public static UpdateDefinition<ProviderKeyDocument> Upsert(ProviderKey key)
    {
        ArgumentNullException.ThrowIfNull(key);
        return Builders<ProviderKeyDocument>.Update
            .Set(d => d.ProtectedKey, key.ProtectedKey)
            .Set(d => d.Masked, key.Masked)
            .Set(d => d.Enabled, key.Enabled)
            .Set(d => d.UpdatedAt, TimestampDocument.From(key.UpdatedAt))
            .SetOnInsert(d => d.Id, key.Id)
            .SetOnInsert(d => d.CreatedAt, TimestampDocument.From(key.CreatedAt));
    }

    public static FindOneAndUpdateOptions<ProviderKeyDocument> UpsertOptions { get; } = new()
    {
        IsUpsert = true,
        ReturnDocument = ReturnDocument.After,
    };

    public static UpdateDefinition<ProviderKeyDocument> SetEnabled(bool enabled, DateTimeOffset updatedAt)
        => Builders<ProviderKeyDocument>.Update
            .Set(d => d.Enabled, enabled)
            .Set(d => d.UpdatedAt, TimestampDocument.From(updatedAt));
}
