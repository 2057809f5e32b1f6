using Xunit;

namespace UsageBilling.Testing;

/// <summary>The behaviour every <see cref="IRateLimitCounterStore"/> must have.</summary>
public abstract class RateLimitCounterStoreSpecification
{
    private static readonly DateTimeOffset WindowEnd = new(2100, 1, 1, 0, 0, 0, TimeSpan.Zero);

    /// <summary>
    /// Creates the store under test. It may share state with stores created earlier in the class. To skip the class
    /// visibly when its backend is not available, call <c>Skip.If(...)</c> (Xunit.SkippableFact) here.
    /// </summary>
    protected abstract ValueTask<IRateLimitCounterStore> CreateStoreAsync();

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

    private static string NewKey() => $"key_{Guid.NewGuid():N}:m:1";
}
