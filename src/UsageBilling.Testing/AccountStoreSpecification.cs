using Xunit;

namespace UsageBilling.Testing;

/// <summary>The behaviour every <see cref="IAccountStore"/> must have.</summary>
public abstract class AccountStoreSpecification
{
    /// <summary>
    /// Creates the store under test. It may share state with stores created earlier in the class. To skip the class
    /// visibly when its backend is not available, call <c>Skip.If(...)</c> (Xunit.SkippableFact) here.
    /// </summary>
    protected abstract ValueTask<IAccountStore> CreateStoreAsync();

    [SkippableFact]
    public async Task A_created_account_is_found_with_every_field()
    {
        var store = await CreateStoreAsync();
        var account = NewAccount();
        await store.CreateAsync(account);
        Assert.Equal(account, await store.FindAsync(account.Id));
    }

    [SkippableFact]
    public async Task An_unknown_account_is_not_found()
    {
        var store = await CreateStoreAsync();
        Assert.Null(await store.FindAsync($"acct_{Guid.NewGuid():N}"));
    }

    [SkippableFact]
    public async Task A_second_account_with_the_same_id_is_refused()
    {
        var store = await CreateStoreAsync();
        var account = NewAccount();
        await store.CreateAsync(account);
        await Assert.ThrowsAnyAsync<Exception>(async () => await store.CreateAsync(account with { Name = "other" }));
        Assert.Equal(account.Name, (await store.FindAsync(account.Id))!.Name);
    }

    [SkippableFact]
    public async Task Updating_an_account_replaces_its_name_plan_and_budget()
    {
        var store = await CreateStoreAsync();
        var account = NewAccount();
        await store.CreateAsync(account);
        var updated = account with
        {
            Name = "Acme GmbH",
            Plan = "enterprise",
            Budget = new SpendBudget { Daily = Money.FromUnits(1.5m), Monthly = Money.FromUnits(30m) },
        };

        Assert.True(await store.UpdateAsync(updated));
        Assert.Equal(updated, await store.FindAsync(account.Id));
        Assert.True(await store.UpdateAsync(updated with { Budget = null }));
        Assert.Null((await store.FindAsync(account.Id))!.Budget);
        Assert.False(await store.UpdateAsync(NewAccount()));
    }

    private static BillingAccount NewAccount() => new()
    {
        Id = $"acct_{Guid.NewGuid():N}",
        Name = "Acme Ltd",
        Plan = "pro",
        CreatedAt = new DateTimeOffset(2026, 11, 1, 12, 0, 0, TimeSpan.Zero),
    };
}
