using System.Collections.Concurrent;
using System.Diagnostics;

namespace UsageBilling;

/// <summary>
/// Times one store call: a <c>usagebilling.store.*</c> span and the <c>usagebilling.store.duration</c> histogram
/// (tag <c>usagebilling.store.operation</c>, a fixed name). Use with <c>using</c>; it does nothing when nobody listens.
/// </summary>
internal readonly struct StoreCallScope : IDisposable
{
    /// <summary>The span name of each operation, made once (the operations are a fixed set of names).</summary>
    private static readonly ConcurrentDictionary<string, string> SpanNames = new(StringComparer.Ordinal);

    private readonly UsageBillingMetrics? _metrics;
    private readonly Activity? _activity;
    private readonly string _operation;
    private readonly long _started;

    internal StoreCallScope(UsageBillingMetrics? metrics, string operation)
    {
        _operation = operation;
        var source = UsageBillingActivitySource.Source;
        _activity = source.HasListeners()
            ? source.StartActivity(SpanNames.GetOrAdd(operation, static name => "usagebilling.store." + name), ActivityKind.Client)
            : null;
        _activity?.SetTag("usagebilling.store.operation", operation);
        _metrics = metrics is { StoreDurationEnabled: true } ? metrics : null;
        _started = _metrics is null ? 0 : Stopwatch.GetTimestamp();
    }

    public void Dispose()
    {
        _metrics?.StoreCallFinished(_operation, Stopwatch.GetElapsedTime(_started));
        _activity?.Dispose();
    }
}

/// <summary>Runs store calls under a <see cref="StoreCallScope"/> only when a listener or the histogram is on; otherwise calls straight through.</summary>
internal static class StoreCalls
{
    public static bool IsObserved(UsageBillingMetrics? metrics) => UsageBillingActivitySource.Source.HasListeners() || metrics?.StoreDurationEnabled == true;

    /// <summary>Calls <paramref name="call"/> with <paramref name="state"/> (a static lambda: nothing is allocated when nobody listens).</summary>
    public static ValueTask<T> RunAsync<TState, T>(UsageBillingMetrics? metrics, string operation, TState state, Func<TState, ValueTask<T>> call)
        => IsObserved(metrics) ? ObservedAsync(metrics, operation, state, call) : call(state);

    /// <summary>Calls <paramref name="call"/> with <paramref name="state"/>; see the overload with a result.</summary>
    public static ValueTask RunAsync<TState>(UsageBillingMetrics? metrics, string operation, TState state, Func<TState, ValueTask> call)
        => IsObserved(metrics) ? ObservedAsync(metrics, operation, state, call) : call(state);

    private static async ValueTask ObservedAsync<TState>(UsageBillingMetrics? metrics, string operation, TState state, Func<TState, ValueTask> call)
    {
        using var scope = new StoreCallScope(metrics, operation);
        await call(state).ConfigureAwait(false);
    }

    private static async ValueTask<T> ObservedAsync<TState, T>(UsageBillingMetrics? metrics, string operation, TState state, Func<TState, ValueTask<T>> call)
    {
        using var scope = new StoreCallScope(metrics, operation);
        return await call(state).ConfigureAwait(false);
    }
}
