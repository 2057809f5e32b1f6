namespace UsageBilling.Stores;

/// <summary>One counter to move in <see cref="ICounterStore.IncrementAsync"/>.</summary>
/// <param name="Key">The counter's key, for example <c>key_01:m:29000000</c> (key, window kind, window number).</param>
/// <param name="Delta">How much to add; negative to give back.</param>
/// <param name="ExpiresAt">When the counter may be deleted (the end of its window).</param>
public readonly record struct CounterIncrement(string Key, long Delta, DateTimeOffset ExpiresAt);

/// <summary>
/// Counters for fixed rate-limit windows and quotas, shared by every app instance that uses the same store.
/// </summary>
public interface ICounterStore
{
    /// <summary>
    /// Atomically adds each delta to its counter (creating it at zero if missing) and returns the new values in the
    /// same order. Counter keys name their window, so an expired counter is never incremented again; the store may
    /// delete it any time after its expiry.
    /// </summary>
    ValueTask<long[]> IncrementAsync(IReadOnlyList<CounterIncrement> increments, CancellationToken cancellationToken = default);

    /// <summary>Reads counters without changing them; a missing counter reads as zero.</summary>
    ValueTask<long[]> GetAsync(IReadOnlyList<string> keys, CancellationToken cancellationToken = default);
}
