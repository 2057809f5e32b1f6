using Microsoft.EntityFrameworkCore;
using System.Collections.Concurrent;
using UsageBilling;
using UsageBilling.Stores;

namespace DocsSnippets;

// <snippet:custom-stores-counter-store>
/// <summary>
/// Rate-limit counters in one process's memory: a sketch of the contract. A real store keeps them where every
/// instance sees them (Redis INCRBY with EXPIREAT, an UPSERT ... RETURNING, a findOneAndUpdate with $inc).
/// </summary>
public sealed class MyCounterStore(TimeProvider timeProvider) : ICounterStore
{
    private readonly ConcurrentDictionary<string, Counter> _counters = new(StringComparer.Ordinal);

    public ValueTask<long[]> IncrementAsync(IReadOnlyList<CounterIncrement> increments, CancellationToken cancellationToken = default)
    {
        var now = timeProvider.GetUtcNow();
        var values = new long[increments.Count];
        for (var i = 0; i < increments.Count; i++)
        {
            var increment = increments[i];
            // Atomic per counter; a counter past its expiry may be dropped and starts again at zero.
            var counter = _counters.AddOrUpdate(
                increment.Key,
                static (_, inc) => new Counter(inc.Delta, inc.ExpiresAt),
                static (_, existing, inc) => new Counter(existing.Value + inc.Delta, inc.ExpiresAt),
                increment);
            values[i] = counter.Value;
            if (counter.ExpiresAt <= now)
            {
                _counters.TryRemove(new KeyValuePair<string, Counter>(increment.Key, counter));
            }
        }

        return ValueTask.FromResult(values);
    }

    public ValueTask<long[]> GetAsync(IReadOnlyList<string> keys, CancellationToken cancellationToken = default)
        => ValueTask.FromResult(keys.Select(k => _counters.TryGetValue(k, out var c) ? c.Value : 0L).ToArray());

    private sealed record Counter(long Value, DateTimeOffset ExpiresAt);
}
// </snippet:custom-stores-counter-store>

internal static class CustomStoreRegistration
{
    public static void Register(WebApplicationBuilder builder)
    {
        // <snippet:custom-stores-register>
        builder.Services.AddUsageBilling(builder.Configuration.GetSection("UsageBilling"))
            .UseEntityFrameworkCore(ef => ef.UseSqlite("Data Source=billing.db"))   // a backend for the rest (optional)
            .AddCounterStore<MyCounterStore>();                             // then replace what you implement
        // </snippet:custom-stores-register>
    }
}
