using UsageBilling.Stores;

namespace UsageBilling.Tests.Unit;

/// <summary>
/// Abandoned calls' give-backs are group-committed in front of a counter
/// store that is not in memory: which writes go together, that sums are exact, and that each caller gets its own
/// values (or its group's failure).
/// </summary>
public sealed class GroupedCounterWritesTests
{
    private static readonly DateTimeOffset Expires = new(2026, 12, 31, 0, 0, 0, TimeSpan.Zero);

    [Fact]
    public async Task Writes_queued_while_a_group_is_written_go_together_in_one_store_call_and_each_caller_reads_its_own_values()
    {
        var store = new GatedCounterStore();
        var counters = new CallCounters(store);
        var first = counters.ApplyGroupedAsync([Increment("spend:a", 10)], CancellationToken.None).AsTask();
        var waiting = new[]
        {
            counters.ApplyGroupedAsync([Increment("spend:a", -3), Increment("tokens:a", 5)], CancellationToken.None).AsTask(),
            counters.ApplyGroupedAsync([Increment("spend:a", -2)], CancellationToken.None).AsTask(),
            counters.ApplyGroupedAsync([Increment("spend:b", 7)], CancellationToken.None).AsTask(),
        };

        store.Gate.SetResult();
        var values = await Task.WhenAll(waiting.Prepend(first)).WaitAsync(TimeSpan.FromSeconds(30));

        // The first alone, then the three queued behind it in one call.
        Assert.Equal([1, 4], store.Calls.Select(c => c.Count));
        Assert.Equal([10L], values[0]);

        // A key several calls name moves once by the sum of their deltas, and each reads its value after the group.
        Assert.Equal([5L, 5L], values[1]);
        Assert.Equal([5L], values[2]);
        Assert.Equal([7L], values[3]);
        Assert.Equal(new long[] { 5, 5, 7 }, await store.GetAsync(["spend:a", "tokens:a", "spend:b"]));
    }

    [Fact]
    public async Task A_group_the_store_fails_fails_each_of_its_callers_and_moves_nothing()
    {
        var failure = new TimeoutException("the database did not answer");
        var store = new GatedCounterStore();
        var counters = new CallCounters(store);
        var first = counters.ApplyGroupedAsync([Increment("spend:a", 1)], CancellationToken.None).AsTask();
        store.Failure = failure;
        var second = counters.ApplyGroupedAsync([Increment("spend:a", 2)], CancellationToken.None).AsTask();
        var third = counters.ApplyGroupedAsync([Increment("spend:b", 3)], CancellationToken.None).AsTask();

        store.Gate.SetResult();
        Assert.Same(failure, await Assert.ThrowsAsync<TimeoutException>(() => first.WaitAsync(TimeSpan.FromSeconds(30))));
        Assert.Same(failure, await Assert.ThrowsAsync<TimeoutException>(() => second.WaitAsync(TimeSpan.FromSeconds(30))));
        Assert.Same(failure, await Assert.ThrowsAsync<TimeoutException>(() => third.WaitAsync(TimeSpan.FromSeconds(30))));
        Assert.Equal(new long[] { 0, 0 }, await store.GetAsync(["spend:a", "spend:b"]));

        // The next group is written: a caller retries its own writes.
        store.Failure = null;
        Assert.Equal(new long[] { 2 }, await counters.ApplyGroupedAsync([Increment("spend:a", 2)], CancellationToken.None).AsTask().WaitAsync(TimeSpan.FromSeconds(30)));
    }

    private static CounterIncrement Increment(string key, long delta) => new(key, delta, Expires);

    /// <summary>
    /// A counter store that is not the in-memory one (so the writes are grouped): its first call waits for
    /// <see cref="Gate"/>; it merges a key named twice as the database stores do, and fails while <see cref="Failure"/> is set.
    /// </summary>
    private sealed class GatedCounterStore : ICounterStore
    {
        private readonly Dictionary<string, long> _values = new(StringComparer.Ordinal);

        public TaskCompletionSource Gate { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public List<IReadOnlyList<CounterIncrement>> Calls { get; } = [];

        public Exception? Failure { get; set; }

        public async ValueTask<long[]> IncrementAsync(IReadOnlyList<CounterIncrement> increments, CancellationToken cancellationToken = default)
        {
            lock (Calls)
            {
                Calls.Add([.. increments]);
            }

            await Gate.Task.ConfigureAwait(false);
            if (Failure is { } failure)
            {
                throw failure;
            }

            lock (_values)
            {
                foreach (var increment in increments)
                {
                    _values[increment.Key] = _values.GetValueOrDefault(increment.Key) + increment.Delta;
                }

                return [.. increments.Select(i => _values[i.Key])];
            }
        }

        public ValueTask<long[]> GetAsync(IReadOnlyList<string> keys, CancellationToken cancellationToken = default)
        {
            lock (_values)
            {
                return ValueTask.FromResult<long[]>([.. keys.Select(k => _values.GetValueOrDefault(k))]);
            }
        }
    }
}
