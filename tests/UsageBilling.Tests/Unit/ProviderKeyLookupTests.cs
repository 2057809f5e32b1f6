using Microsoft.AspNetCore.DataProtection;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace UsageBilling.Tests.Unit;

public sealed class ProviderKeyLookupTests
{
    private const string Account = "acct_byok";
    private const string OwnKey = "sk-own-key-0123456789abcdef";

    [Fact]
    public async Task A_calls_lookup_of_its_accounts_provider_key_is_cached_and_a_change_here_is_seen_at_once()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 12, 6, 12, 0, 0, TimeSpan.Zero));
        var options = new UsageBillingOptions();
        options.Keys.CacheDuration = TimeSpan.FromSeconds(30);
        options.Keys.NegativeCacheDuration = TimeSpan.FromSeconds(5);
        var store = new CountingProviderKeyStore(new InMemoryProviderKeyStore());
        using var cache = new ProviderKeyLookupCache(Options.Create(options));
        var keys = new ProviderKeyManager(store, new EphemeralDataProtectionProvider(), time, cache);

        // No key: asked once, then remembered as none for the negative window.
        Assert.Null(await keys.GetActiveKeyAsync(Account, "openai"));
        Assert.Null(await keys.GetActiveKeyAsync(Account, "OpenAI"));
        Assert.Equal(1, store.Finds);
        time.Advance(TimeSpan.FromSeconds(5));
        Assert.Null(await keys.GetActiveKeyAsync(Account, "openai"));
        Assert.Equal(2, store.Finds);

        // Set here: seen by the next call, then served from the cache for the positive window.
        await keys.SetAsync(Account, "openai", OwnKey);
        Assert.Equal(OwnKey, await keys.GetActiveKeyAsync(Account, "openai"));
        Assert.Equal(OwnKey, await keys.GetActiveKeyAsync(Account, "openai"));
        Assert.Equal(3, store.Finds);
        time.Advance(TimeSpan.FromSeconds(29));
        Assert.Equal(OwnKey, await keys.GetActiveKeyAsync(Account, "openai"));
        Assert.Equal(3, store.Finds);

        // Disabled, enabled and deleted here: each seen by the next call.
        Assert.True(await keys.SetEnabledAsync(Account, "openai", enabled: false));
        Assert.Null(await keys.GetActiveKeyAsync(Account, "openai"));
        Assert.True(await keys.SetEnabledAsync(Account, "openai", enabled: true));
        Assert.Equal(OwnKey, await keys.GetActiveKeyAsync(Account, "openai"));
        Assert.True(await keys.DeleteAsync(Account, "openai"));
        Assert.Null(await keys.GetActiveKeyAsync(Account, "openai"));
        Assert.Equal(6, store.Finds);

        // Another provider of the same account is its own entry.
        Assert.Null(await keys.GetActiveKeyAsync(Account, "anthropic"));
        Assert.Equal(7, store.Finds);
    }

    [Fact]
    public async Task A_change_made_by_another_instance_is_seen_within_the_cache_duration()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 12, 6, 12, 0, 0, TimeSpan.Zero));
        var options = new UsageBillingOptions();
        options.Keys.CacheDuration = TimeSpan.FromSeconds(30);
        var store = new InMemoryProviderKeyStore();
        var protection = new EphemeralDataProtectionProvider();
        using var cache = new ProviderKeyLookupCache(Options.Create(options));
        var here = new ProviderKeyManager(store, protection, time, cache);
        using var otherCache = new ProviderKeyLookupCache(Options.Create(options));
        var other = new ProviderKeyManager(store, protection, time, otherCache);

        await here.SetAsync(Account, "openai", OwnKey);
        Assert.Equal(OwnKey, await here.GetActiveKeyAsync(Account, "openai"));
        Assert.True(await other.SetEnabledAsync(Account, "openai", enabled: false));

        Assert.Equal(OwnKey, await here.GetActiveKeyAsync(Account, "openai"));
        time.Advance(TimeSpan.FromSeconds(30));
        Assert.Null(await here.GetActiveKeyAsync(Account, "openai"));
    }

    /// <summary>The in-memory store, counting its lookups.</summary>
    private sealed class CountingProviderKeyStore(IProviderKeyStore inner) : IProviderKeyStore
    {
        public int Finds { get; private set; }

        public ValueTask<ProviderKey?> FindAsync(string accountId, string provider, CancellationToken cancellationToken = default)
        {
            Finds++;
            return inner.FindAsync(accountId, provider, cancellationToken);
        }

        public ValueTask<ProviderKey> UpsertAsync(ProviderKey key, CancellationToken cancellationToken = default) => inner.UpsertAsync(key, cancellationToken);

        public ValueTask<IReadOnlyList<ProviderKey>> ListAsync(string accountId, CancellationToken cancellationToken = default) => inner.ListAsync(accountId, cancellationToken);

        public ValueTask<bool> SetEnabledAsync(string accountId, string provider, bool enabled, DateTimeOffset updatedAt, CancellationToken cancellationToken = default)
            => inner.SetEnabledAsync(accountId, provider, enabled, updatedAt, cancellationToken);

        public ValueTask<bool> DeleteAsync(string accountId, string provider, CancellationToken cancellationToken = default) => inner.DeleteAsync(accountId, provider, cancellationToken);
    }
}
