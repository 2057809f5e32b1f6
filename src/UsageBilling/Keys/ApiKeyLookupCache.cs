using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Options;

namespace UsageBilling;

/// <summary>
/// Remembers key lookups (found and not found) for a short time so that most requests make no store call.
/// Bounded: when it grows past <see cref="MaxEntries"/> it drops expired entries, then everything.
/// </summary>
internal sealed class ApiKeyLookupCache
{
    internal const int MaxEntries = 100_000;

    private readonly ConcurrentDictionary<string, Entry> _entries = new(StringComparer.Ordinal);
    private readonly TimeSpan _positiveDuration;
    private readonly TimeSpan _negativeDuration;

    public ApiKeyLookupCache(IOptions<UsageBillingOptions> options)
    {
        _positiveDuration = options.Value.Keys.CacheDuration;
        _negativeDuration = options.Value.Keys.NegativeCacheDuration;
    }

    public bool TryGet(string hash, DateTimeOffset now, out ResolvedApiKey? key)
    {
        if (_entries.TryGetValue(hash, out var entry) && entry.ExpiresAt > now)
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

        if (_entries.Count >= MaxEntries)
        {
            Trim(now);
        }

        _entries[hash] = new Entry(key, now + duration);
    }

    public void Remove(string hash) => _entries.TryRemove(hash, out _);

    public static bool FixedTimeEquals(string left, string right)
        => CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(left), Encoding.ASCII.GetBytes(right));

    private void Trim(DateTimeOffset now)
    {
        foreach (var (hash, entry) in _entries)
        {
            if (entry.ExpiresAt <= now)
            {
                _entries.TryRemove(hash, out _);
            }
        }

        if (_entries.Count >= MaxEntries)
        {
            _entries.Clear();
        }
    }

    private readonly record struct Entry(ResolvedApiKey? Key, DateTimeOffset ExpiresAt);
}
