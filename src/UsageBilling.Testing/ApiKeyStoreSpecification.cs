using Xunit;

namespace UsageBilling.Testing;

/// <summary>The behaviour every <see cref="IApiKeyStore"/> must have.</summary>
public abstract class ApiKeyStoreSpecification
{
    private static readonly DateTimeOffset Now = new(2026, 11, 1, 12, 0, 0, TimeSpan.Zero);

    /// <summary>
    /// Creates the store under test. It may share state with stores created earlier in the class. To skip the class
    /// visibly when its backend is not available, call <c>Skip.If(...)</c> (Xunit.SkippableFact) here.
    /// </summary>
    protected abstract ValueTask<IApiKeyStore> CreateStoreAsync();

    [SkippableFact]
    public async Task A_created_key_is_found_by_hash_and_by_id_with_every_field()
    {
        var store = await CreateStoreAsync();
        var key = NewKey(NewId("acct")) with
        {
            ExpiresAt = Now.AddDays(30),
            Limits = new RequestLimits { RequestsPerMinute = 60, MonthlyRequests = 10_000 },
        };
        await store.CreateAsync(key);

        Assert.Equal(key, await store.FindByHashAsync(key.Hash));
        Assert.Equal(key, await store.FindByIdAsync(key.Id));
    }

    [SkippableFact]
    public async Task Unknown_hashes_and_ids_are_not_found()
    {
        var store = await CreateStoreAsync();
        Assert.Null(await store.FindByHashAsync(new string('0', 64)));
        Assert.Null(await store.FindByIdAsync(NewId("key")));
    }

    [SkippableFact]
    public async Task A_second_key_with_the_same_hash_is_refused()
    {
        var store = await CreateStoreAsync();
        var key = NewKey(NewId("acct"));
        await store.CreateAsync(key);
        await Assert.ThrowsAnyAsync<Exception>(async () => await store.CreateAsync(key with { Id = NewId("key") }));
        Assert.Equal(key.Id, (await store.FindByHashAsync(key.Hash))!.Id);
    }

    [SkippableFact]
    public async Task Keys_are_listed_per_account_oldest_first()
    {
        var store = await CreateStoreAsync();
        var account = NewId("acct");
        var second = NewKey(account) with { CreatedAt = Now.AddMinutes(1), Name = "second" };
        var first = NewKey(account) with { Name = "first" };
        await store.CreateAsync(second);
        await store.CreateAsync(first);
        await store.CreateAsync(NewKey(NewId("acct")));

        var keys = await store.ListByAccountAsync(account);
        Assert.Equal(["first", "second"], keys.Select(k => k.Name));
        Assert.Empty(await store.ListByAccountAsync(NewId("acct")));
    }

    [SkippableFact]
    public async Task Revoking_keeps_the_first_revocation_time()
    {
        var store = await CreateStoreAsync();
        var key = NewKey(NewId("acct"));
        await store.CreateAsync(key);

        Assert.True(await store.RevokeAsync(key.Id, Now.AddHours(1)));
        Assert.True(await store.RevokeAsync(key.Id, Now.AddHours(2)));
        Assert.Equal(Now.AddHours(1), (await store.FindByHashAsync(key.Hash))!.RevokedAt);
        Assert.False(await store.RevokeAsync(NewId("key"), Now));
    }

    [SkippableFact]
    public async Task Touching_only_moves_the_last_use_forwards()
    {
        var store = await CreateStoreAsync();
        var key = NewKey(NewId("acct"));
        await store.CreateAsync(key);

        await store.TouchAsync(key.Id, Now.AddMinutes(5));
        await store.TouchAsync(key.Id, Now.AddMinutes(1));
        Assert.Equal(Now.AddMinutes(5), (await store.FindByIdAsync(key.Id))!.LastUsedAt);
        await store.TouchAsync(NewId("key"), Now);
    }

    [SkippableFact]
    public async Task Every_key_can_be_listed_in_id_order_a_page_at_a_time()
    {
        var store = await CreateStoreAsync();
        var mine = new List<string>();
        for (var i = 0; i < 5; i++)
        {
            var key = NewKey(NewId("acct"));
            await store.CreateAsync(key);
            mine.Add(key.Id);
        }

        var seen = new List<string>();
        string? after = null;
        for (var page = 0; page < 10_000; page++)
        {
            var keys = await store.ListAsync(after, 2);
            Assert.True(keys.Count <= 2);
            if (keys.Count == 0)
            {
                break;
            }

            seen.AddRange(keys.Select(k => k.Id));
            after = keys[^1].Id;
        }

        Assert.Equal(seen.Order(StringComparer.Ordinal), seen);
        Assert.Equal(seen.Count, seen.Distinct().Count());
        Assert.Equal(mine.Order(StringComparer.Ordinal), seen.Where(mine.Contains));
    }

    [SkippableFact]
    public async Task Updating_a_key_replaces_name_expiry_limits_and_budget_only()
    {
        var store = await CreateStoreAsync();
        var key = NewKey(NewId("acct")) with { Budget = new SpendBudget { Weekly = Money.FromUnits(5m) } };
        await store.CreateAsync(key);
        await store.RevokeAsync(key.Id, Now.AddHours(1));
        Assert.Equal(key.Budget, (await store.FindByIdAsync(key.Id))!.Budget);

        var changed = key with
        {
            Name = "renamed",
            ExpiresAt = Now.AddDays(7),
            Limits = new RequestLimits { RequestsPerDay = 10, TokensPerMinute = 1000 },
            Budget = new SpendBudget { Daily = Money.FromUnits(0.000000001m) },
            Hash = new string('f', 64),
            AccountId = NewId("acct"),
        };
        Assert.True(await store.UpdateAsync(changed));

        var stored = await store.FindByIdAsync(key.Id);
        Assert.Equal(key with { Name = "renamed", ExpiresAt = changed.ExpiresAt, Limits = changed.Limits, Budget = changed.Budget, RevokedAt = Now.AddHours(1) }, stored);
        Assert.False(await store.UpdateAsync(NewKey(NewId("acct"))));
    }

    private static ApiKeyRecord NewKey(string accountId) => new()
    {
        Id = NewId("key"),
        AccountId = accountId,
        Name = "test key",
        DisplayPrefix = "sk-test-abcd",
        Hash = Convert.ToHexStringLower(Guid.NewGuid().ToByteArray()) + Convert.ToHexStringLower(Guid.NewGuid().ToByteArray()),
        CreatedAt = Now,
    };

    private static string NewId(string prefix) => $"{prefix}_{Guid.NewGuid():N}";
}
