using System.Collections.Concurrent;

namespace UsageBilling;

/// <summary>The in-memory <see cref="ICounterStore"/>; expired counters are dropped every so often.</summary>
internal sealed class InMemoryRateLimitCounterStore : ICounterStore
{
    private const int SweepEvery = 10_000;
    private readonly ConcurrentDictionary<string, Counter> _counters = new(StringComparer.Ordinal);
    private readonly TimeProvider _timeProvider;
    private int _sinceSweep;

    public InMemoryRateLimitCounterStore(TimeProvider timeProvider) => _timeProvider = timeProvider;

    public ValueTask<long[]> IncrementAsync(IReadOnlyList<CounterIncrement> increments, CancellationToken cancellationToken = default)
    {
        var values = new long[increments.Count];
        for (var i = 0; i < increments.Count; i++)
        {
            var increment = increments[i];
            var counter = _counters.GetOrAdd(increment.Key, static (_, expiresAt) => new Counter(expiresAt), increment.ExpiresAt);
            values[i] = Interlocked.Add(ref counter.Value, increment.Delta);
        }

        if (Interlocked.Increment(ref _sinceSweep) >= SweepEvery)
        {
            Interlocked.Exchange(ref _sinceSweep, 0);
            var now = _timeProvider.GetUtcNow();
            foreach (var (key, counter) in _counters)
            {
                if (counter.ExpiresAt <= now)
                {
                    // Only this counter: never one created for the key after this look.
                    _counters.TryRemove(new KeyValuePair<string, Counter>(key, counter));
                }
            }
        }

        return ValueTask.FromResult(values);
    }

    public ValueTask<long[]> GetAsync(IReadOnlyList<string> keys, CancellationToken cancellationToken = default)
    {
        var values = new long[keys.Count];
        for (var i = 0; i < keys.Count; i++)
        {
            values[i] = _counters.TryGetValue(keys[i], out var counter) ? Interlocked.Read(ref counter.Value) : 0;
        }

        return ValueTask.FromResult(values);
    }

    private sealed class Counter(DateTimeOffset expiresAt)
    {
        public long Value;

        public DateTimeOffset ExpiresAt { get; } = expiresAt;
    }
}
