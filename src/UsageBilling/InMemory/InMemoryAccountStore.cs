using System.Collections.Concurrent;

namespace UsageBilling;

/// <summary>The in-memory <see cref="IAccountStore"/>.</summary>
internal sealed class InMemoryAccountStore : IAccountStore
{
    private readonly ConcurrentDictionary<string, BillingAccount> _accounts = new(StringComparer.Ordinal);

    public ValueTask CreateAsync(BillingAccount account, CancellationToken cancellationToken = default)
    {
        if (!_accounts.TryAdd(account.Id, account))
        {
            throw new InvalidOperationException($"An account with id '{account.Id}' already exists.");
        }

        return ValueTask.CompletedTask;
    }

    public ValueTask<BillingAccount?> FindAsync(string accountId, CancellationToken cancellationToken = default)
        => ValueTask.FromResult(_accounts.GetValueOrDefault(accountId));

    public ValueTask<bool> UpdateAsync(BillingAccount account, CancellationToken cancellationToken = default)
    {
        while (_accounts.TryGetValue(account.Id, out var current))
        {
            var updated = current with { Name = account.Name, Plan = account.Plan, Budget = account.Budget };
            if (_accounts.TryUpdate(account.Id, updated, current))
            {
                return ValueTask.FromResult(true);
            }
        }

        return ValueTask.FromResult(false);
    }
}
