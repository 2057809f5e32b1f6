using MongoDB.Driver;

namespace UsageBilling.Mongo;

/// <summary>The MongoDB <see cref="IApiKeyStore"/>: one document per key; a unique index on the hash refuses a second key with the same hash.</summary>
internal sealed class MongoApiKeyStore(MongoBillingDatabase database) : IApiKeyStore
{
    public async ValueTask CreateAsync(ApiKeyRecord key, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(key);
        try
        {
            await database.ApiKeys.InsertOneAsync(ApiKeyDocument.From(key), options: null, cancellationToken).ConfigureAwait(false);
        }
        catch (MongoWriteException ex) when (MongoErrors.IsDuplicateKey(ex))
        {
            throw new InvalidOperationException($"A key with id '{key.Id}' or the same hash already exists.", ex);
        }
    }

    public async ValueTask<ApiKeyRecord?> FindByHashAsync(string hash, CancellationToken cancellationToken = default)
    {
        var document = await database.ApiKeys.Find(ApiKeyDefinitions.ByHash(hash)).FirstOrDefaultAsync(cancellationToken).ConfigureAwait(false);
        return document?.ToRecord();
    }

    public async ValueTask<ApiKeyRecord?> FindByIdAsync(string keyId, CancellationToken cancellationToken = default)
    {
        var document = await database.ApiKeys.Find(ApiKeyDefinitions.ById(keyId)).FirstOrDefaultAsync(cancellationToken).ConfigureAwait(false);
        return document?.ToRecord();
    }

    public async ValueTask<IReadOnlyList<ApiKeyRecord>> ListAsync(string? afterId, int limit, CancellationToken cancellationToken = default)
    {
        if (limit < 1)
        {
            return []; // As the in-memory store; the driver would read a limit of 0 as "no limit".
        }

        var documents = await database.ApiKeys.Find(ApiKeyDefinitions.After(afterId))
            .Sort(ApiKeyDefinitions.IdOrder)
            .Limit(limit)
            .ToListAsync(cancellationToken).ConfigureAwait(false);
        return documents.Select(d => d.ToRecord()).ToList();
    }

    public async ValueTask<bool> UpdateAsync(ApiKeyRecord key, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(key);
        var result = await database.ApiKeys.UpdateOneAsync(ApiKeyDefinitions.ById(key.Id), ApiKeyDefinitions.Update(key), options: null, cancellationToken)
            .ConfigureAwait(false);
        return result.MatchedCount > 0;
    }

    public async ValueTask<IReadOnlyList<ApiKeyRecord>> ListByAccountAsync(string accountId, CancellationToken cancellationToken = default)
    {
        var documents = await database.ApiKeys.Find(ApiKeyDefinitions.ByAccount(accountId))
            .Sort(ApiKeyDefinitions.OldestFirst)
            .ToListAsync(cancellationToken).ConfigureAwait(false);
        return documents.Select(d => d.ToRecord()).ToList();
    }

    public async ValueTask<bool> RevokeAsync(string keyId, DateTimeOffset revokedAt, CancellationToken cancellationToken = default)
    {
        var result = await database.ApiKeys.UpdateOneAsync(ApiKeyDefinitions.ById(keyId), ApiKeyDefinitions.Revoke(revokedAt), options: null, cancellationToken)
            .ConfigureAwait(false);
        return result.MatchedCount > 0;
    }

    public async ValueTask TouchAsync(string keyId, DateTimeOffset usedAt, CancellationToken cancellationToken = default)
        => await database.ApiKeys.UpdateOneAsync(ApiKeyDefinitions.TouchableBefore(keyId, usedAt), ApiKeyDefinitions.Touch(usedAt), options: null, cancellationToken)
            .ConfigureAwait(false);
}
