using Microsoft.Extensions.Options;

namespace UsageBilling;

/// <summary>Creates and finds billing accounts.</summary>
public sealed class AccountManager
{
    private readonly IAccountStore _store;
    private readonly TimeProvider _timeProvider;
    private readonly IOptions<UsageBillingOptions> _options;

    internal AccountManager(IAccountStore store, TimeProvider timeProvider, IOptions<UsageBillingOptions> options)
    {
        _store = store;
        _timeProvider = timeProvider;
        _options = options;
    }

    /// <summary>Creates an account on <paramref name="plan"/> (default: <see cref="PlanOptions.DefaultPlan"/>).</summary>
    public async ValueTask<BillingAccount> CreateAsync(string name, string? plan = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        var account = new BillingAccount
        {
            Id = BillingIds.New("acct", _timeProvider),
            Name = name,
            Plan = string.IsNullOrWhiteSpace(plan) ? _options.Value.Plans.DefaultPlan : plan,
            CreatedAt = _timeProvider.GetUtcNow(),
        };
        await _store.CreateAsync(account, cancellationToken).ConfigureAwait(false);
        return account;
    }

    /// <summary>Sets an account's budget (<see langword="null"/> removes it). API-key lookups cached on other instances see it within <see cref="ApiKeyOptions.CacheDuration"/>.</summary>
    /// <returns>The updated account, or <see langword="null"/> if there is no such account.</returns>
    public async ValueTask<BillingAccount?> SetBudgetAsync(string accountId, SpendBudget? budget, CancellationToken cancellationToken = default)
    {
        var account = await _store.FindAsync(accountId, cancellationToken).ConfigureAwait(false);
        if (account is null)
        {
            return null;
        }

        var updated = account with { Budget = budget is { IsEmpty: true } ? null : budget };
        return await _store.UpdateAsync(updated, cancellationToken).ConfigureAwait(false) ? updated : null;
    }

    /// <summary>Finds an account by id.</summary>
    public ValueTask<BillingAccount?> FindAsync(string accountId, CancellationToken cancellationToken = default)
        => _store.FindAsync(accountId, cancellationToken);
}
