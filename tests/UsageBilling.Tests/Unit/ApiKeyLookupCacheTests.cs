using Microsoft.Extensions.Options;

namespace UsageBilling.Tests.Unit;

public sealed class ApiKeyLookupCacheTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 15, 10, 0, 0, TimeSpan.Zero);

    [Fact]
    public async Task Past_its_size_limit_the_cache_evicts_the_least_recently_used_entries_not_everything()
    {
        using var cache = new ApiKeyLookupCache(Options.Create(new UsageBillingOptions()), maxEntries: 100);
        for (var i = 0; i < 100; i++)
        {
            cache.Set($"hash-{i}", null, Now);
            if (i < 12)
            {
                await Task.Delay(2);   // the oldest entries have distinct last-access times
            }
        }

        await Task.Delay(50);
        Assert.True(cache.TryGet("hash-0", Now, out _));   // used recently: kept

        for (var i = 100; i < 120; i++)
        {
            cache.Set($"hash-{i}", null, Now);
        }

        // Compaction runs in the background (on a busy machine, late): it takes the least recently used tenth, never
        // everything. Wait for it by the count alone (looking an entry up would make it recently used): entries set
        // past the limit are refused until it has run, so the count falls under 100 once it has.
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (cache.Count >= 100 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(10);
        }

        Assert.InRange(cache.Count, 80, 100);
        Assert.True(cache.TryGet("hash-0", Now, out _));
        Assert.False(cache.TryGet("hash-1", Now, out _));
    }

    [Fact]
    public void An_entry_expires_by_the_apps_clock()
    {
        var options = new UsageBillingOptions();
        options.Keys.NegativeCacheDuration = TimeSpan.FromSeconds(5);
        using var cache = new ApiKeyLookupCache(Options.Create(options));
        cache.Set("hash", null, Now);
        Assert.True(cache.TryGet("hash", Now.AddSeconds(4), out _));
        Assert.False(cache.TryGet("hash", Now.AddSeconds(5), out _));
    }
}
