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

    /// <summary>Finds an account by id.</summary>
    public ValueTask<BillingAccount?> FindAsync(string accountId, CancellationToken cancellationToken = default)
        => _store.FindAsync(accountId, cancellationToken);
}
