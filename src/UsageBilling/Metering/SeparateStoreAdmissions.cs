namespace UsageBilling;

/// <summary>The default <see cref="ICallAdmissionStore"/>: never admits in one step, so calls are counted and held through the separate stores.</summary>
internal sealed class SeparateStoreAdmissions : ICallAdmissionStore
{
    private static readonly CallAdmissionResult NotHandled = new(CallAdmissionStatus.NotHandled, [], null);

    public ValueTask<CallAdmissionResult> TryAdmitAsync(IReadOnlyList<CounterIncrement> increments, Func<IReadOnlyList<long>, bool> admit, CreditReservationRequest reservation,
        CancellationToken cancellationToken = default) => ValueTask.FromResult(NotHandled);
}
