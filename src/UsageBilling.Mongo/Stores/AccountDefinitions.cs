using MongoDB.Driver;

namespace UsageBilling.Mongo;

/// <summary>The filter and update of <see cref="MongoAccountStore"/>, built here so tests can render them.</summary>
internal static class AccountDefinitions
{
    public static FilterDefinition<AccountDocument> ById(string accountId) => Builders<AccountDocument>.Filter.Eq(d => d.Id, accountId);

    /// <summary>Replaces the name, plan and budget; the id and creation time stay.</summary>
    public static UpdateDefinition<AccountDocument> Update(BillingAccount account)
    {
        ArgumentNullException.ThrowIfNull(account);
        var update = Builders<AccountDocument>.Update.Set(d => d.Name, account.Name).Set(d => d.Plan, account.Plan);
        return account.Budget is null
            ? update.Unset(d => d.Budget)
            : update.Set(d => d.Budget, SpendBudgetDocument.From(account.Budget));
    }
}
