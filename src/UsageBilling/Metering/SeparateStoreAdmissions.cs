namespace UsageBilling;

/// <summary>The default <see cref="ICallAdmissionStore"/>: never admits in one step, so calls are counted and held through the separate stores.</summary>
internal sealed class SeparateStoreAdmissions : ICallAdmissionStore
{
    private static readonly CallAdmissionResult NotHandled = new(CallAdmissionStatus.NotHandled, [], null);

    public ValueTask<IReadOnlyList<CallAdmissionResult>> TryAdmitAsync(IReadOnlyList<CallAdmissionRequest> calls, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(calls);
        var results = new CallAdmissionResult[calls.Count];
        Array.Fill(results, NotHandled);
        return ValueTask.FromResult<IReadOnlyList<CallAdmissionResult>>(results);
    }
}
