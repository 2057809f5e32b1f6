using Microsoft.EntityFrameworkCore;

namespace UsageBilling.EntityFrameworkCore;

/// <summary>The Entity Framework Core <see cref="IApiKeyStore"/>. Revoking and touching are single conditional updates.</summary>
internal sealed class EfCoreApiKeyStore<TContext> : IApiKeyStore where TContext : DbContext
{
    private readonly BillingDatabase<TContext> _database;

    public EfCoreApiKeyStore(BillingDatabase<TContext> database) => _database = database;

    public async ValueTask CreateAsync(ApiKeyRecord key, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(key);
        await _database.WriteAsync(async (transaction, ct) =>
        {
            transaction.Context.Add(ApiKeyEntity.From(key));
            try
            {
                await transaction.Context.SaveChangesAsync(ct).ConfigureAwait(false);
            }
            catch (DbUpdateException ex) when (TransientDatabaseErrors.IsUniqueViolation(ex, transaction.Provider))
            {
                throw new InvalidOperationException($"A key with id '{key.Id}' or the same hash already exists.", ex);
            }

            await transaction.CommitAsync(ct).ConfigureAwait(false);
            return true;
        }, cancellationToken).ConfigureAwait(false);
    }

    public ValueTask<ApiKeyRecord?> FindByHashAsync(string hash, CancellationToken cancellationToken = default)
        => _database.ReadAsync(static async (context, _, state) =>
            (await context.Set<ApiKeyEntity>().AsNoTracking()
                .FirstOrDefaultAsync(k => k.Hash == state.hash, state.cancellationToken).ConfigureAwait(false))?.ToRecord(),
            (hash, cancellationToken), cancellationToken);

    public ValueTask<ApiKeyRecord?> FindByIdAsync(string keyId, CancellationToken cancellationToken = default)
        => _database.ReadAsync(static async (context, _, state) =>
            (await context.Set<ApiKeyEntity>().AsNoTracking()
                .FirstOrDefaultAsync(k => k.Id == state.keyId, state.cancellationToken).ConfigureAwait(false))?.ToRecord(),
            (keyId, cancellationToken), cancellationToken);

    public ValueTask<IReadOnlyList<ApiKeyRecord>> ListAsync(string? afterId, int limit, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 0);
        return _database.ReadAsync(static async (context, schema, state) =>
        {
            // Ordinal id order: PostgreSQL compares with the "C" collation, SQLite's default is binary.
            var keys = context.Set<ApiKeyEntity>().AsNoTracking();
            IQueryable<ApiKeyEntity> page;
            if (schema.Provider == BillingProvider.PostgreSql)
            {
                if (state.afterId is { } after)
                {
                    keys = keys.Where(k => EF.Functions.Collate(k.Id, "C").CompareTo(after) > 0);
                }

                page = keys.OrderBy(k => EF.Functions.Collate(k.Id, "C"));
            }
            else
            {
                if (state.afterId is { } after)
                {
                    keys = keys.Where(k => k.Id.CompareTo(after) > 0);
                }

                page = keys.OrderBy(k => k.Id);
            }

            var rows = await page.Take(state.limit).ToListAsync(state.cancellationToken).ConfigureAwait(false);
            IReadOnlyList<ApiKeyRecord> records = rows.Select(k => k.ToRecord()).ToList();
            return records;
        }, (afterId, limit, cancellationToken), cancellationToken);
    }

    public ValueTask<bool> UpdateAsync(ApiKeyRecord key, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(key);
        var expiresAt = StoredTime.ToTicks(key.ExpiresAt);
        var limits = StoredJson.Write(key.Limits);
        var budget = StoredJson.Write(key.Budget);
        return _database.WriteAsync(async (transaction, ct) =>
        {
            // Hash, account, creation, revocation and last use stay as stored.
            var updated = await transaction.Context.Set<ApiKeyEntity>()
                .Where(k => k.Id == key.Id)
                .ExecuteUpdateAsync(s => s
                    .SetProperty(k => k.Name, key.Name)
                    .SetProperty(k => k.ExpiresAt, expiresAt)
                    .SetProperty(k => k.Limits, limits)
                    .SetProperty(k => k.Budget, budget), ct).ConfigureAwait(false);
            await transaction.CommitAsync(ct).ConfigureAwait(false);
            return updated > 0;
        }, cancellationToken);
    }

    public ValueTask<IReadOnlyList<ApiKeyRecord>> ListByAccountAsync(string accountId, CancellationToken cancellationToken = default)
        => _database.ReadAsync(static async (context, _, state) =>
        {
            var rows = await context.Set<ApiKeyEntity>().AsNoTracking()
                .Where(k => k.AccountId == state.accountId)
                .ToListAsync(state.cancellationToken).ConfigureAwait(false);

            // Ordered here so that ties break by ordinal id whatever the database's collation.
            IReadOnlyList<ApiKeyRecord> keys = rows
                .OrderBy(k => k.CreatedAt)
                .ThenBy(k => k.Id, StringComparer.Ordinal)
                .Select(k => k.ToRecord())
                .ToList();
            return keys;
        }, (accountId, cancellationToken), cancellationToken);

    public ValueTask<bool> RevokeAsync(string keyId, DateTimeOffset revokedAt, CancellationToken cancellationToken = default)
    {
        long? ticks = StoredTime.ToTicks(revokedAt);
        return _database.WriteAsync(async (transaction, ct) =>
        {
            var keys = transaction.Context.Set<ApiKeyEntity>();

            // Revoking twice keeps the first time.
            var revoked = await keys.Where(k => k.Id == keyId && k.RevokedAt == null)
                .ExecuteUpdateAsync(s => s.SetProperty(k => k.RevokedAt, ticks), ct).ConfigureAwait(false);
            var exists = revoked > 0 || await keys.AnyAsync(k => k.Id == keyId, ct).ConfigureAwait(false);
            await transaction.CommitAsync(ct).ConfigureAwait(false);
            return exists;
        }, cancellationToken);
    }

    public async ValueTask TouchAsync(string keyId, DateTimeOffset usedAt, CancellationToken cancellationToken = default)
    {
        await _database.WriteAsync(async (transaction, ct) =>
        {
            var touched = await TouchAsync(transaction, keyId, usedAt, ct).ConfigureAwait(false);
            await transaction.CommitAsync(ct).ConfigureAwait(false);
            return touched;
        }, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Adds to <paramref name="batch"/> what <see cref="TouchAsync(BillingTransaction, string, DateTimeOffset, CancellationToken)"/> does.</summary>
    internal static void AddTouch(StatementBatch batch, string keyId, DateTimeOffset usedAt)
    {
        var k = batch.Schema.ApiKeys;
        batch.Add($"UPDATE {k.Name} SET {k["LastUsedAt"]} = @usedAt WHERE {k["Id"]} = @id AND ({k["LastUsedAt"]} IS NULL OR {k["LastUsedAt"]} < @usedAt) RETURNING {k["Id"]}")
            .With("@id", keyId).With("@usedAt", StoredTime.ToTicks(usedAt));
    }

    /// <summary>Sets the key's last use in <paramref name="transaction"/>; never moves it backwards, whatever order concurrent touches arrive in.</summary>
    internal static Task<int> TouchAsync(BillingTransaction transaction, string keyId, DateTimeOffset usedAt, CancellationToken cancellationToken)
    {
        long? ticks = StoredTime.ToTicks(usedAt);
        return transaction.Context.Set<ApiKeyEntity>()
            .Where(k => k.Id == keyId && (k.LastUsedAt == null || k.LastUsedAt < ticks))
            .ExecuteUpdateAsync(s => s.SetProperty(k => k.LastUsedAt, ticks), cancellationToken);
    }
}
