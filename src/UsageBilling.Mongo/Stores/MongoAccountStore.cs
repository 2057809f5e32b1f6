using MongoDB.Driver;

namespace UsageBilling.Mongo;

/// <summary>The MongoDB <see cref="IAccountStore"/>: one document per account, keyed by its id.</summary>
internal sealed class MongoAccountStore(MongoBillingDatabase database) : IAccountStore
{
    public async ValueTask CreateAsync(BillingAccount account, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(account);
        try
        {
            await database.Accounts.InsertOneAsync(AccountDocument.From(account), options: null, cancellationToken).ConfigureAwait(false);
        }
        catch (MongoWriteException ex) when (MongoErrors.IsDuplicateKey(ex))
        {
            throw new InvalidOperationException($"An account with id '{account.Id}' already exists.", ex);
        }
    }

    public async ValueTask<BillingAccount?> FindAsync(string accountId, CancellationToken cancellationToken = default)
    {
        var document = await database.Accounts.Find(AccountDefinitions.ById(accountId))
            .FirstOrDefaultAsync(cancellationToken).ConfigureAwait(false);
        return document?.ToAccount();
    }

    public async ValueTask<bool> UpdateAsync(BillingAccount account, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(account);
        var result = await database.Accounts.UpdateOneAsync(AccountDefinitions.ById(account.Id), AccountDefinitions.Update(account), options: null, cancellationToken)
            .ConfigureAwait(false);
        return result.MatchedCount > 0;
    }
}
