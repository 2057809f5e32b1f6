using Xunit;

namespace UsageBilling.Testing;

/// <summary>The behaviour every <see cref="ICounterStore"/> must have.</summary>
public abstract class CounterStoreSpecification
{
    private static readonly DateTimeOffset WindowEnd = new(2100, 1, 1, 0, 0, 0, TimeSpan.Zero);

    /// <summary>
    /// Creates the store under test. It may share state with stores created earlier in the class. To skip the class
    /// visibly when its backend is not available, call <c>Skip.If(...)</c> (Xunit.SkippableFact) here.
    /// </summary>
    protected abstract ValueTask<ICounterStore> CreateStoreAsync();

    /// <summary>How many increments the concurrency test runs at once.</summary>
    protected virtual int Concurrency => 1000;

    [SkippableFact]
    public async Task Increments_return_the_new_values_in_order()
    {
        var store = await CreateStoreAsync();
        var (a, b) = (NewKey(), NewKey());
        var first = await store.IncrementAsync([new(a, 1, WindowEnd), new(b, 5, WindowEnd)]);
        Assert.Equal(new long[] { 1, 5 }, first);
        var second = await store.IncrementAsync([new(a, 2, WindowEnd), new(b, -1, WindowEnd)]);
        Assert.Equal(new long[] { 3, 4 }, second);
        var read = await store.GetAsync([a, b, NewKey()]);
        Assert.Equal(new long[] { 3, 4, 0 }, read);
    }

    [SkippableFact]
    public async Task Concurrent_increments_are_never_lost()
    {
        var store = await CreateStoreAsync();
        var key = NewKey();
        var values = await Task.WhenAll(Enumerable.Range(0, Concurrency).Select(_ =>
            Task.Run(async () => (await store.IncrementAsync([new(key, 1, WindowEnd)]))[0])));

        Assert.Equal(Enumerable.Range(1, Concurrency).Select(i => (long)i), values.Order());
        var read = await store.GetAsync([key]);
        Assert.Equal(new long[] { Concurrency }, read);
    }

    [SkippableFact]
    public async Task Concurrent_calls_sharing_counters_in_any_order_never_deadlock_nor_lose_an_increment()
    {
        var store = await CreateStoreAsync();
        var keys = Enumerable.Range(0, 6).Select(_ => NewKey()).ToArray();
        var calls = Math.Min(Concurrency, 200);
        await Task.WhenAll(Enumerable.Range(0, calls).Select(i => Task.Run(async () =>
        {
            var order = i % 2 == 0 ? keys : keys.Reverse().ToArray();
            var values = await store.IncrementAsync(order.Select(k => new CounterIncrement(k, 1, WindowEnd)).ToList());
            Assert.All(values, v => Assert.InRange(v, 1, calls));
        })));

        Assert.All(await store.GetAsync(keys), v => Assert.Equal(calls, v));
    }

    [SkippableFact]
    public async Task A_key_named_twice_in_one_call_moves_by_both_deltas()
    {
        var store = await CreateStoreAsync();
        var (a, b) = (NewKey(), NewKey());
        await store.IncrementAsync([new(a, 2, WindowEnd), new(b, 1, WindowEnd), new(a, 3, WindowEnd)]);
        Assert.Equal(new long[] { 5, 1 }, await store.GetAsync([a, b]));
    }

    private static string NewKey() => $"key_{Guid.NewGuid():N}:m:1";
}
