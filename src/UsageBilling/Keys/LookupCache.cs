using Microsoft.Extensions.Caching.Memory;

namespace UsageBilling;

/// <summary>
/// Remembers store lookups (found and not found) for a short time so that most requests make no store call. A
/// <see cref="MemoryCache"/> bounded to a number of entries: past it, a compaction evicts expired entries and then the
/// least recently used tenth, never everything. Expiry is checked against the app's <see cref="TimeProvider"/>; the
/// cache's own expiry only frees memory.
/// </summary>
/// <typeparam name="TValue">What a lookup found.</typeparam>
internal class LookupCache<TValue> : IDisposable where TValue : class
{
    private readonly MemoryCache _entries;
    private readonly TimeSpan _positiveDuration;
    private readonly TimeSpan _negativeDuration;

    /// <param name="positiveDuration">How long a value found is remembered; zero or less: not at all.</param>
    /// <param name="negativeDuration">How long "not found" is remembered; zero or less: not at all.</param>
    /// <param name="maxEntries">The most lookups remembered.</param>
    protected LookupCache(TimeSpan positiveDuration, TimeSpan negativeDuration, int maxEntries)
    {
        _positiveDuration = positiveDuration;
        _negativeDuration = negativeDuration;
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
