namespace UsageBilling;

/// <summary>
/// The one-step admission of metered calls, group-committed (<see cref="GroupWriter{T}"/>): calls arriving together
/// are handed to <see cref="ICallAdmissionStore"/> as one group, so that under load one transaction — one row lock of
/// each account's balance, one commit — admits many calls, and a lone call is admitted at once. A caller waits for
/// its group's answer. A group the store fails fails each of its callers, who learn from their own reservation
/// whether anything was kept (the group is one transaction).
/// </summary>
internal sealed class CallAdmissions
{
    /// <summary>The most calls admitted in one group.</summary>
    internal const int MaxBatch = 256;

    private readonly ICallAdmissionStore _store;
    private readonly UsageBillingMetrics? _metrics;
    private readonly GroupCalls<CallAdmissionRequest, CallAdmissionResult> _groups;

    public CallAdmissions(ICallAdmissionStore store, UsageBillingMetrics? metrics = null)
    {
        _store = store;
        _metrics = metrics;
        _groups = new GroupCalls<CallAdmissionRequest, CallAdmissionResult>(MaxBatch, WriteAsync);
    }

    /// <summary>Whether the store admits in one step at all; the default (<see cref="SeparateStoreAdmissions"/>) never does.</summary>
    public bool Enabled => _store is not SeparateStoreAdmissions;

    /// <summary>Queues <paramref name="call"/>; the task ends with its result when its group was written, or with the group's exception.</summary>
    public Task<CallAdmissionResult> AdmitAsync(CallAdmissionRequest call) => _groups.CallAsync(call);

    private async Task<IReadOnlyList<CallAdmissionResult>> WriteAsync(CallAdmissionRequest[] group)
    {
        IReadOnlyList<CallAdmissionResult> results;

        // Nothing cancels a group: a caller that leaves is admitted or not with the others, and releases its hold.
        using (_metrics?.StoreCall("admissions.admit"))
        {
            results = await _store.TryAdmitAsync(group, CancellationToken.None).ConfigureAwait(false);
        }

        if (results.Count != group.Length)
        {
            throw new InvalidOperationException($"{_store.GetType().Name} returned {results.Count} results for {group.Length} calls.");
        }

        return results;
    }
}
