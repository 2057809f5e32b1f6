using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.Options;

namespace UsageBilling;

/// <summary>
/// Remembers key lookups (found and not found) for a short time so that most requests make no store call. A
/// <see cref="MemoryCache"/> bounded to <see cref="MaxEntries"/> entries: past it, a compaction evicts expired entries
/// and then the least recently used tenth, never everything. Expiry is checked against the app's
/// <see cref="TimeProvider"/>; the cache's own expiry only frees memory.
/// </summary>
internal sealed class ApiKeyLookupCache : IDisposable
{
    internal const int MaxEntries = 100_000;

    private readonly MemoryCache _entries;
    private readonly TimeSpan _positiveDuration;
    private readonly TimeSpan _negativeDuration;

    public ApiKeyLookupCache(IOptions<UsageBillingOptions> options, int maxEntries = MaxEntries)
    {
        _positiveDuration = options.Value.Keys.CacheDuration;
        _negativeDuration = options.Value.Keys.NegativeCacheDuration;
        _entries = new MemoryCache(new MemoryCacheOptions { SizeLimit = maxEntries, CompactionPercentage = 0.1 });
    }

    /// <summary>How many lookups are cached now.</summary>
    internal int Count => _entries.Count;

    public bool TryGet(string hash, DateTimeOffset now, out ResolvedApiKey? key)
    {
        if (_entries.TryGetValue(hash, out Entry? entry) && entry!.ExpiresAt > now)
        {
            key = entry.Key;
            return true;
        }

        key = null;
        return false;
    }

    public void Set(string hash, ResolvedApiKey? key, DateTimeOffset now)
    {
        var duration = key is null ? _negativeDuration : _positiveDuration;
        if (duration <= TimeSpan.Zero)
        {
            return;
        }

        _entries.Set(hash, new Entry(key, now + duration), new MemoryCacheEntryOptions { Size = 1, AbsoluteExpirationRelativeToNow = duration });
    }

    public void Remove(string hash) => _entries.Remove(hash);

    public static bool FixedTimeEquals(string left, string right)
        => CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(left), Encoding.ASCII.GetBytes(right));

    public void Dispose() => _entries.Dispose();

    private sealed record Entry(ResolvedApiKey? Key, DateTimeOffset ExpiresAt);
}
