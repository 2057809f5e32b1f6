using Microsoft.Extensions.DependencyInjection;

namespace UsageBilling.Tests.Faults;

/// <summary>The exception an injected fault throws: what a store outage, a timeout or a full pool looks like to the caller.</summary>
internal sealed class InjectedStoreFaultException(string message) : Exception(message);

/// <summary>
/// Makes one store operation fail on its N-th call after <see cref="Arm"/> (and the calls after it, for an outage
/// that lasts several calls): before the store applies it (a refused connection), or after (the reply was lost: a
/// timeout after the commit). Every other call passes through.
/// </summary>
internal sealed class StoreFaults
{
    private readonly Dictionary<string, int> _calls = new(StringComparer.Ordinal);
    private readonly object _lock = new();
    private string? _operation;
    private int _nth;
    private bool _afterApplying;
    private int _times;

    /// <summary>How many faults were thrown since <see cref="Arm"/>.</summary>
    public int Thrown { get; private set; }

    public void Arm(string operation, int nth, bool afterApplying, int times = 1)
    {
        lock (_lock)
        {
            _calls.Clear();
            (_operation, _nth, _afterApplying, _times, Thrown) = (operation, nth, afterApplying, times, 0);
        }
    }

    public async ValueTask<T> RunAsync<T>(string operation, Func<ValueTask<T>> call)
    {
        var fault = Next(operation);
        if (fault == Fault.Before)
        {
            throw new InjectedStoreFaultException($"Injected fault before {operation}.");
        }

        var result = await call();
        return fault == Fault.After ? throw new InjectedStoreFaultException($"Injected fault after {operation} was applied.") : result;
    }

    /// <summary>One store call that performs several operations (a batch): each is counted; one fault fails the whole call.</summary>
    public async ValueTask<T> RunAsync<T>(IEnumerable<string> operations, Func<ValueTask<T>> call)
    {
        var faults = operations.Select(Next).ToList();
        if (faults.Contains(Fault.Before))
        {
            throw new InjectedStoreFaultException($"Injected fault before a batch of {string.Join(", ", operations)}.");
        }

        var result = await call();
        return faults.Contains(Fault.After) ? throw new InjectedStoreFaultException("Injected fault after a batch was applied.") : result;
    }

    public async ValueTask RunAsync(string operation, Func<ValueTask> call)
        => await RunAsync(operation, async () =>
        {
            await call();
            return true;
        });

    private Fault Next(string operation)
    {
        lock (_lock)
        {
            if (_operation != operation)
            {
                return Fault.None;
            }

            _calls[operation] = _calls.GetValueOrDefault(operation) + 1;
            if (_calls[operation] < _nth || _calls[operation] >= _nth + _times)
            {
                return Fault.None;
            }

            Thrown++;
            return _afterApplying ? Fault.After : Fault.Before;
        }
    }

    private enum Fault
    {
        None,
        Before,
        After,
    }
}

/// <summary>An <see cref="ICreditStore"/> that fails where <see cref="StoreFaults"/> says.</summary>
internal sealed class FaultyCreditStore(ICreditStore inner, StoreFaults faults) : ICreditStore
{
    public ValueTask<CreditBalance> GetBalanceAsync(string accountId, CancellationToken cancellationToken = default) => inner.GetBalanceAsync(accountId, cancellationToken);

    public ValueTask<ReserveResult> ReserveAsync(CreditReservationRequest request, CancellationToken cancellationToken = default)
        => faults.RunAsync("reserve", () => inner.ReserveAsync(request, cancellationToken));

    public ValueTask<SettleResult> SettleAsync(string reservationId, Money actualAmount, DateTimeOffset now, CancellationToken cancellationToken = default)
        => faults.RunAsync("settle", () => inner.SettleAsync(reservationId, actualAmount, now, cancellationToken));

    public ValueTask<bool> ReleaseAsync(string reservationId, DateTimeOffset now, CancellationToken cancellationToken = default)
        => faults.RunAsync("release", () => inner.ReleaseAsync(reservationId, now, cancellationToken));

    public ValueTask<CreditReservation?> FindReservationAsync(string reservationId, CancellationToken cancellationToken = default) => inner.FindReservationAsync(reservationId, cancellationToken);

    public ValueTask<PostResult> PostAsync(LedgerPostRequest request, CancellationToken cancellationToken = default)
        => faults.RunAsync("post", () => inner.PostAsync(request, cancellationToken));

    public ValueTask<LedgerPage> GetLedgerAsync(string accountId, int limit, string? cursor, CancellationToken cancellationToken = default)
        => inner.GetLedgerAsync(accountId, limit, cursor, cancellationToken);

    public ValueTask<int> ExpireReservationsAsync(DateTimeOffset now, DateTimeOffset createdBefore, int maxCount, CancellationToken cancellationToken = default)
        => faults.RunAsync("expire", () => inner.ExpireReservationsAsync(now, createdBefore, maxCount, cancellationToken));
}

/// <summary>An <see cref="IRateLimitCounterStore"/> that fails where <see cref="StoreFaults"/> says.</summary>
internal sealed class FaultyCounterStore(IRateLimitCounterStore inner, StoreFaults faults) : IRateLimitCounterStore
{
    public ValueTask<long[]> IncrementAsync(IReadOnlyList<CounterIncrement> increments, CancellationToken cancellationToken = default)
        => faults.RunAsync("increment", () => inner.IncrementAsync(increments, cancellationToken));

    public ValueTask<long[]> GetAsync(IReadOnlyList<string> keys, CancellationToken cancellationToken = default) => inner.GetAsync(keys, cancellationToken);
}

/// <summary>An <see cref="IUsageStore"/> that fails where <see cref="StoreFaults"/> says.</summary>
internal sealed class FaultyUsageStore(IUsageStore inner, StoreFaults faults) : IUsageStore
{
    public ValueTask AppendAsync(IReadOnlyList<UsageRecord> records, CancellationToken cancellationToken = default)
        => faults.RunAsync("append", () => inner.AppendAsync(records, cancellationToken));

    public ValueTask<UsagePage> QueryAsync(UsageQuery query, CancellationToken cancellationToken = default) => inner.QueryAsync(query, cancellationToken);

    public ValueTask<IReadOnlyList<UsageSummary>> SummarizeAsync(UsageSummaryQuery query, CancellationToken cancellationToken = default) => inner.SummarizeAsync(query, cancellationToken);
}

/// <summary>
/// An <see cref="ICallCompletionStore"/> of a backend that writes a batch in one transaction, failing where
/// <see cref="StoreFaults"/> says: each settle, release and the batch's records count as the operations they are.
/// </summary>
internal sealed class FaultyCompletionStore(ICallCompletionStore inner, StoreFaults faults) : ICallCompletionStore
{
    public ValueTask<IReadOnlyList<CompletionResult>> CompleteAsync(IReadOnlyList<CallCompletion> completions, DateTimeOffset now, CancellationToken cancellationToken = default)
    {
        var operations = completions.Select(c => c.Charge is null ? "release" : "settle").ToList();
        if (completions.Any(c => c.Record is not null))
        {
            operations.Add("append");
        }

        return faults.RunAsync(operations, () => inner.CompleteAsync(completions, now, cancellationToken));
    }
}

/// <summary>An <see cref="ICallAdmissionStore"/> that admits groups in one step, failing where <see cref="StoreFaults"/> says (each call as an increment and a reserve).</summary>
internal sealed class FaultyAdmissionStore(ICallAdmissionStore inner, StoreFaults faults) : ICallAdmissionStore
{
    public ValueTask<IReadOnlyList<CallAdmissionResult>> TryAdmitAsync(IReadOnlyList<CallAdmissionRequest> calls, CancellationToken cancellationToken = default)
        => faults.RunAsync(calls.SelectMany(c => c.Increments.Count > 0 ? ["increment", "reserve"] : new[] { "reserve" }), () => inner.TryAdmitAsync(calls, cancellationToken));
}

internal static class StoreFaultsServiceCollectionExtensions
{
    /// <summary>Wraps the registered credit, counter and usage stores so that <paramref name="faults"/> can fail them.</summary>
    public static IServiceCollection AddStoreFaults(this IServiceCollection services, StoreFaults faults)
    {
        services.AddSingleton(faults);
        Decorate<ICreditStore>(services, inner => new FaultyCreditStore(inner, faults));
        Decorate<IRateLimitCounterStore>(services, inner => new FaultyCounterStore(inner, faults));
        Decorate<IUsageStore>(services, inner => new FaultyUsageStore(inner, faults));

        // The default completion store calls the credit and usage stores decorated above; a backend's own is decorated itself.
        if (services.Last(d => d.ServiceType == typeof(ICallCompletionStore)).ImplementationType != typeof(StoreCallCompletions))
        {
            Decorate<ICallCompletionStore>(services, inner => new FaultyCompletionStore(inner, faults));
        }

        if (services.Last(d => d.ServiceType == typeof(ICallAdmissionStore)).ImplementationType != typeof(SeparateStoreAdmissions))
        {
            Decorate<ICallAdmissionStore>(services, inner => new FaultyAdmissionStore(inner, faults));
        }

        return services;
    }

    private static void Decorate<TService>(IServiceCollection services, Func<TService, TService> decorate) where TService : class
    {
        var descriptor = services.Last(d => d.ServiceType == typeof(TService));
        services.Remove(descriptor);
        services.AddSingleton(sp =>
        {
            var inner = descriptor.ImplementationInstance as TService
                ?? (descriptor.ImplementationFactory is { } factory
                    ? (TService)factory(sp)
                    : (TService)ActivatorUtilities.CreateInstance(sp, descriptor.ImplementationType!));
            return decorate(inner);
        });
    }
}
