using MongoDB.Driver;

namespace UsageBilling.Mongo;

/// <summary>
/// The MongoDB <see cref="IProviderKeyStore"/>: one document per (account, provider), kept unique by an index, and
/// stored with one atomic <c>findOneAndUpdate</c> upsert that sets the id and creation time only on insert.
/// </summary>
internal sealed class MongoProviderKeyStore(MongoBillingDatabase database) : IProviderKeyStore
{
    public async ValueTask<ProviderKey> UpsertAsync(ProviderKey key, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(key);
        var filter = ProviderKeyDefinitions.ByAccountAndProvider(key.AccountId, key.Provider);
        var update = ProviderKeyDefinitions.Upsert(key);
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                var document = await database.ProviderKeys.FindOneAndUpdateAsync(filter, update, ProviderKeyDefinitions.UpsertOptions, cancellationToken)
                    .ConfigureAwait(false);
                return document.ToKey();
            }
            catch (MongoException ex) when (MongoErrors.IsDuplicateKey(ex) && attempt < 1)
            {
                // Two first upserts of the same (account, provider) inserted at once; the loser retries once, as an
                // update of the winner's document (keeping its id and creation time).
            }
        }
    }

    public async ValueTask<ProviderKey?> FindAsync(string accountId, string provider, CancellationToken cancellationToken = default)
    {
        var document = await database.ProviderKeys.Find(ProviderKeyDefinitions.ByAccountAndProvider(accountId, provider))
            .FirstOrDefaultAsync(cancellationToken).ConfigureAwait(false);
        return document?.ToKey();
    }

    public async ValueTask<IReadOnlyList<ProviderKey>> ListAsync(string accountId, CancellationToken cancellationToken = default)
    {
        var documents = await database.ProviderKeys.Find(ProviderKeyDefinitions.ByAccount(accountId))
            .Sort(ProviderKeyDefinitions.ByProvider)
            .ToListAsync(cancellationToken).ConfigureAwait(false);
        return documents.Select(d => d.ToKey()).ToList();
    }

    public async ValueTask<bool> SetEnabledAsync(string accountId, string provider, bool enabled, DateTimeOffset updatedAt, CancellationToken cancellationToken = default)
    {
        var result = await database.ProviderKeys.UpdateOneAsync(
            ProviderKeyDefinitions.ByAccountAndProvider(accountId, provider),
            ProviderKeyDefinitions.SetEnabled(enabled, updatedAt),
            options: null,
            cancellationToken).ConfigureAwait(false);
        return result.MatchedCount > 0;
    }

    public async ValueTask<bool> DeleteAsync(string accountId, string provider, CancellationToken cancellationToken = default)
    {
        var result = await database.ProviderKeys.DeleteOneAsync(ProviderKeyDefinitions.ByAccountAndProvider(accountId, provider), cancellationToken)
            .ConfigureAwait(false);
        return result.DeletedCount > 0;
    }
}
