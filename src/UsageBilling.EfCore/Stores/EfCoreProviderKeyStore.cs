using Microsoft.EntityFrameworkCore;

namespace UsageBilling.EntityFrameworkCore;

/// <summary>
/// The Entity Framework Core <see cref="IProviderKeyStore"/>: an upsert on (account, provider) replaces the account's
/// key for the provider in one statement, keeping the stored id and creation time.
/// </summary>
internal sealed class EfCoreProviderKeyStore<TContext> : IProviderKeyStore where TContext : DbContext
{
    private readonly BillingDatabase<TContext> _database;
    private string? _upsertSql;

    public EfCoreProviderKeyStore(BillingDatabase<TContext> database) => _database = database;

    public ValueTask<ProviderKey> UpsertAsync(ProviderKey key, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(key);
        return _database.WriteAsync(async (transaction, ct) =>
        {
            var sql = _upsertSql ??= UpsertSql(transaction.Schema.ProviderKeys);
            await using var upsert = transaction.Command(sql)
                .With("@id", key.Id)
                .With("@account", key.AccountId)
                .With("@provider", key.Provider)
                .With("@protected", key.ProtectedKey)
                .With("@masked", key.Masked)
                .With("@enabled", key.Enabled)
                .With("@created", StoredTime.ToTicks(key.CreatedAt))
                .With("@updated", StoredTime.ToTicks(key.UpdatedAt));
            string id;
            long createdAt;
            try
            {
                await using var reader = await upsert.ExecuteReaderAsync(ct).ConfigureAwait(false);
                await reader.ReadAsync(ct).ConfigureAwait(false);
                id = reader.GetString(0);
                createdAt = reader.GetInt64(1);
            }
            catch (Exception ex) when (TransientDatabaseErrors.IsUniqueViolation(ex, transaction.Provider))
            {
                // Only the id can clash here: a conflict on (account, provider) is the update.
                throw new InvalidOperationException($"A provider key with id '{key.Id}' already exists for another account or provider.", ex);
            }

            await transaction.CommitAsync(ct).ConfigureAwait(false);
            return key with { Id = id, CreatedAt = StoredTime.FromTicks(createdAt) };
        }, cancellationToken);
    }

    public ValueTask<ProviderKey?> FindAsync(string accountId, string provider, CancellationToken cancellationToken = default)
        => _database.ReadAsync(static async (context, _, state) =>
            (await context.Set<ProviderKeyEntity>().AsNoTracking()
                .FirstOrDefaultAsync(k => k.AccountId == state.accountId && k.Provider == state.provider, state.cancellationToken)
                .ConfigureAwait(false))?.ToKey(),
            (accountId, provider, cancellationToken), cancellationToken);

    public ValueTask<IReadOnlyList<ProviderKey>> ListAsync(string accountId, CancellationToken cancellationToken = default)
        => _database.ReadAsync(static async (context, _, state) =>
        {
            var rows = await context.Set<ProviderKeyEntity>().AsNoTracking()
                .Where(k => k.AccountId == state.accountId)
                .ToListAsync(state.cancellationToken).ConfigureAwait(false);

            // Ordered here so that providers sort ordinally whatever the database's collation.
            IReadOnlyList<ProviderKey> keys = rows
                .OrderBy(k => k.Provider, StringComparer.Ordinal)
                .Select(k => k.ToKey())
                .ToList();
            return keys;
        }, (accountId, cancellationToken), cancellationToken);

    public ValueTask<bool> SetEnabledAsync(string accountId, string provider, bool enabled, DateTimeOffset updatedAt, CancellationToken cancellationToken = default)
    {
        var ticks = StoredTime.ToTicks(updatedAt);
        return _database.WriteAsync(async (transaction, ct) =>
        {
            var updated = await transaction.Context.Set<ProviderKeyEntity>()
                .Where(k => k.AccountId == accountId && k.Provider == provider)
                .ExecuteUpdateAsync(s => s
                    .SetProperty(k => k.Enabled, enabled)
                    .SetProperty(k => k.UpdatedAt, ticks), ct).ConfigureAwait(false);
            await transaction.CommitAsync(ct).ConfigureAwait(false);
            return updated > 0;
        }, cancellationToken);
    }

    public ValueTask<bool> DeleteAsync(string accountId, string provider, CancellationToken cancellationToken = default)
        => _database.WriteAsync(async (transaction, ct) =>
        {
            var deleted = await transaction.Context.Set<ProviderKeyEntity>()
                .Where(k => k.AccountId == accountId && k.Provider == provider)
                .ExecuteDeleteAsync(ct).ConfigureAwait(false);
            await transaction.CommitAsync(ct).ConfigureAwait(false);
            return deleted > 0;
        }, cancellationToken);

    // The id and creation time of a replaced key stay as stored; RETURNING hands them back.
    private static string UpsertSql(BillingTable t) => $"""
        INSERT INTO {t.Name} ({t["Id"]}, {t["AccountId"]}, {t["Provider"]}, {t["ProtectedKey"]}, {t["Masked"]}, {t["Enabled"]}, {t["CreatedAt"]}, {t["UpdatedAt"]})
        VALUES (@id, @account, @provider, @protected, @masked, @enabled, @created, @updated)
        ON CONFLICT ({t["AccountId"]}, {t["Provider"]}) DO UPDATE SET
            {t["ProtectedKey"]} = excluded.{t["ProtectedKey"]},
            {t["Masked"]} = excluded.{t["Masked"]},
            {t["Enabled"]} = excluded.{t["Enabled"]},
            {t["UpdatedAt"]} = excluded.{t["UpdatedAt"]}
        RETURNING {t["Id"]}, {t["CreatedAt"]}
        """;
}
