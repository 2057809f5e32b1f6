namespace UsageBilling;

/// <summary>Persists billing accounts.</summary>
public interface IAccountStore
{
    /// <summary>Stores a new account. Throws <see cref="InvalidOperationException"/> if the id is already used.</summary>
    ValueTask CreateAsync(BillingAccount account, CancellationToken cancellationToken = default);

    /// <summary>Finds an account by id, or returns <see langword="null"/>.</summary>
    ValueTask<BillingAccount?> FindAsync(string accountId, CancellationToken cancellationToken = default);
}
