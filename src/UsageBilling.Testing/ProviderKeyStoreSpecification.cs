using Xunit;

namespace UsageBilling.Testing;

/// <summary>The behaviour every <see cref="IProviderKeyStore"/> must have.</summary>
public abstract class ProviderKeyStoreSpecification
{
    private static readonly DateTimeOffset Now = new(2026, 11, 1, 12, 0, 0, TimeSpan.Zero);

    /// <summary>
    /// Creates the store under test. It may share state with stores created earlier in the class. To skip the class
    /// visibly when its backend is not available, call <c>Skip.If(...)</c> (Xunit.SkippableFact) here.
    /// </summary>
    protected abstract ValueTask<IProviderKeyStore> CreateStoreAsync();

    [SkippableFact]
    public async Task A_stored_key_is_found_and_listed_with_every_field()
    {
        var store = await CreateStoreAsync();
        var account = NewId("acct");
        var openai = Key(account, "openai");
        var groq = Key(account, "groq");
        Assert.Equal(openai, await store.UpsertAsync(openai));
        await store.UpsertAsync(groq);
        await store.UpsertAsync(Key(NewId("acct"), "openai"));

        Assert.Equal(openai, await store.FindAsync(account, "openai"));
        Assert.Null(await store.FindAsync(account, "anthropic"));
        Assert.Equal([groq, openai], await store.ListAsync(account));
    }

    [SkippableFact]
    public async Task Replacing_a_key_keeps_its_id_and_creation_time()
    {
        var store = await CreateStoreAsync();
        var account = NewId("acct");
        var first = await store.UpsertAsync(Key(account, "anthropic"));
        var replacement = Key(account, "anthropic") with { ProtectedKey = "other-payload", Masked = "sk-…zzzz", Enabled = false, CreatedAt = Now.AddDays(1), UpdatedAt = Now.AddDays(1) };

        var stored = await store.UpsertAsync(replacement);
        Assert.Equal(replacement with { Id = first.Id, CreatedAt = first.CreatedAt }, stored);
        Assert.Equal(stored, await store.FindAsync(account, "anthropic"));
        Assert.Single(await store.ListAsync(account));
    }

    [SkippableFact]
    public async Task Keys_can_be_disabled_enabled_and_deleted()
    {
        var store = await CreateStoreAsync();
        var account = NewId("acct");
        await store.UpsertAsync(Key(account, "openrouter"));

        Assert.True(await store.SetEnabledAsync(account, "openrouter", false, Now.AddHours(1)));
        var disabled = await store.FindAsync(account, "openrouter");
        Assert.False(disabled!.Enabled);
        Assert.Equal(Now.AddHours(1), disabled.UpdatedAt);
        Assert.True(await store.SetEnabledAsync(account, "openrouter", true, Now.AddHours(2)));
        Assert.True((await store.FindAsync(account, "openrouter"))!.Enabled);
        Assert.False(await store.SetEnabledAsync(account, "groq", true, Now));

        Assert.True(await store.DeleteAsync(account, "openrouter"));
        Assert.False(await store.DeleteAsync(account, "openrouter"));
        Assert.Null(await store.FindAsync(account, "openrouter"));
    }

    private static ProviderKey Key(string account, string provider) => new()
    {
        Id = NewId("pk"),
        AccountId = account,
        Provider = provider,
        ProtectedKey = "CfDJ8-protected-payload-" + Guid.NewGuid().ToString("N"),
        Masked = "sk-…abcd",
        Enabled = true,
        CreatedAt = Now,
        UpdatedAt = Now,
    };

    private static string NewId(string prefix) => $"{prefix}_{Guid.NewGuid():N}";
}
