namespace UsageBilling.Stores;

/// <summary>Persists billing accounts.</summary>
public interface IAccountStore
{
    /// <summary>Stores a new account. Throws <see cref="InvalidOperationException"/> if the id is already used.</summary>
    ValueTask CreateAsync(BillingAccount account, CancellationToken cancellationToken = default);

    /// <summary>Finds an account by id, or returns <see langword="null"/>.</summary>
    ValueTask<BillingAccount?> FindAsync(string accountId, CancellationToken cancellationToken = default);

    /// <summary>Replaces an account's name, plan and budget (matched by id). Returns <see langword="false"/> if there is no such account.</summary>
    ValueTask<bool> UpdateAsync(BillingAccount account, CancellationToken cancellationToken = default);
}
