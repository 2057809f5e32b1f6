using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.Options;

namespace UsageBilling;

/// <summary>
/// Remembers key lookups (found and not found) for a short time so that most requests make no store call: found for
/// <see cref="ApiKeyOptions.CacheDuration"/>, not found for <see cref="ApiKeyOptions.NegativeCacheDuration"/>. A
/// <see cref="MemoryCache"/> bounded to a number of entries: past it, a compaction evicts expired entries and then the
/// least recently used tenth, never everything. Expiry is checked against the app's <see cref="TimeProvider"/>; the
/// cache's own expiry only frees memory.
/// </summary>
/// <typeparam name="TValue">What a lookup found.</typeparam>
internal class LookupCache<TValue> : IDisposable where TValue : class
{
    /// <summary>The most lookups remembered unless told otherwise.</summary>
    internal const int MaxEntries = 100_000;

    private readonly MemoryCache _entries;
    private readonly TimeSpan _positiveDuration;
    private readonly TimeSpan _negativeDuration;

    protected LookupCache(IOptions<UsageBillingOptions> options, int maxEntries)
    {
        _positiveDuration = options.Value.Keys.CacheDuration;
        _negativeDuration = options.Value.Keys.NegativeCacheDuration;
        _entries = new MemoryCache(new MemoryCacheOptions { SizeLimit = maxEntries, CompactionPercentage = 0.1 });
    }

    /// <summary>How many lookups are cached now.</summary>
    internal int Count => _entries.Count;

    public bool TryGet(string key, DateTimeOffset now, out TValue? value)
    {
        if (_entries.TryGetValue(key, out Entry? entry) && entry!.ExpiresAt > now)
        {
            value = entry.Value;
            return true;
        }

        value = null;
        return false;
    }

    public void Set(string key, TValue? value, DateTimeOffset now)
    {
        var duration = value is null ? _negativeDuration : _positiveDuration;
        if (duration <= TimeSpan.Zero)
        {
            return;
        }

        _entries.Set(key, new Entry(value, now + duration), new MemoryCacheEntryOptions { Size = 1, AbsoluteExpirationRelativeToNow = duration });
    }

    public void Remove(string key) => _entries.Remove(key);

    public void Dispose()
    {
        _entries.Dispose();
        GC.SuppressFinalize(this);
    }

    private sealed record Entry(TValue? Value, DateTimeOffset ExpiresAt);
}
