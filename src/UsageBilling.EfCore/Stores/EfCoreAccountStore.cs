using Microsoft.EntityFrameworkCore;

namespace UsageBilling.EntityFrameworkCore;

/// <summary>The Entity Framework Core <see cref="IAccountStore"/>.</summary>
internal sealed class EfCoreAccountStore<TContext> : IAccountStore where TContext : DbContext
{
    private readonly BillingDatabase<TContext> _database;

    public EfCoreAccountStore(BillingDatabase<TContext> database) => _database = database;

    public async ValueTask CreateAsync(BillingAccount account, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(account);
        await _database.WriteAsync(async (transaction, ct) =>
        {
            transaction.Context.Add(AccountEntity.From(account));
            try
            {
                await transaction.Context.SaveChangesAsync(ct).ConfigureAwait(false);
            }
            catch (DbUpdateException ex) when (TransientDatabaseErrors.IsUniqueViolation(ex, transaction.Provider))
            {
                throw new InvalidOperationException($"An account with id '{account.Id}' already exists.", ex);
            }

            await transaction.CommitAsync(ct).ConfigureAwait(false);
            return true;
        }, cancellationToken).ConfigureAwait(false);
    }

    public ValueTask<BillingAccount?> FindAsync(string accountId, CancellationToken cancellationToken = default)
        => _database.ReadAsync(static async (context, _, state) =>
            (await context.Set<AccountEntity>().AsNoTracking()
                .FirstOrDefaultAsync(a => a.Id == state.accountId, state.cancellationToken).ConfigureAwait(false))?.ToAccount(),
            (accountId, cancellationToken), cancellationToken);

    public ValueTask<bool> UpdateAsync(BillingAccount account, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(account);
        var budget = StoredJson.Write(account.Budget);
        return _database.WriteAsync(async (transaction, ct) =>
        {
            // One statement: name, plan and budget change together, the creation time never.
            var updated = await transaction.Context.Set<AccountEntity>()
                .Where(a => a.Id == account.Id)
                .ExecuteUpdateAsync(s => s
                    .SetProperty(a => a.Name, account.Name)
                    .SetProperty(a => a.Plan, account.Plan)
                    .SetProperty(a => a.Budget, budget), ct).ConfigureAwait(false);
            await transaction.CommitAsync(ct).ConfigureAwait(false);
            return updated > 0;
        }, cancellationToken);
    }
}
