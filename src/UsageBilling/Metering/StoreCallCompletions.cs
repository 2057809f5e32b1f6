namespace UsageBilling;

/// <summary>
/// The default <see cref="ICallCompletionStore"/>: each settle or release through <see cref="ICreditStore"/>, its
/// counts through <see cref="ICounterStore"/>, and the usage records handed to the asynchronous usage log (which
/// retries, dead-letters and never blocks a call on a slow usage store). Not one transaction: a crash can lose records
/// of charges that were written (see docs/production.md). A batch written again finds its charges
/// <see cref="CompletionStatus.AlreadyCompleted"/>; records are idempotent.
/// </summary>
/// <remarks>
/// Counts exactly once without a transaction. Each completion's counts move after its settle or release, when this write
/// completed it. A write that fails is written again (<see cref="CallCompletions"/>), and its settle or release may have
/// applied before the failure: the write again then finds it already completed. So when a settle, a release or the
/// counts after it fail, this store remembers that the completion's counts are owed, and a write again that finds it
/// completed — by itself or by the write that failed — moves them. Remembered in this process: a crash between a
/// settle and its counts loses those counts (and, with this store, possibly the usage record too).
/// </remarks>
internal sealed class StoreCallCompletions : ICallCompletionStore
{
    private readonly ICreditStore _credits;
    private readonly ICounterStore _counters;
    private readonly UsageLogQueue _usageLog;

    // The completions whose counts are owed: a write of them failed at or after their settle or release.
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, byte> _owed = new(StringComparer.Ordinal);

    public StoreCallCompletions(ICreditStore credits, ICounterStore counters, UsageLogQueue usageLog)
    {
        _credits = credits;
        _counters = counters;
        _usageLog = usageLog;
    }

    public async ValueTask<IReadOnlyList<CompletionResult>> CompleteAsync(IReadOnlyList<CallCompletion> completions, DateTimeOffset now, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(completions);
        var results = new CompletionResult[completions.Count];
        for (var i = 0; i < completions.Count; i++)
        {
            results[i] = await CompleteAsync(completions[i], now, cancellationToken).ConfigureAwait(false);
        }

        for (var i = 0; i < completions.Count; i++)
        {
            if (completions[i].RecordFor(results[i].Status) is { } record)
            {
                await _usageLog.EnqueueAsync(record).ConfigureAwait(false);
            }
        }

        return results;
    }

    private async ValueTask<CompletionResult> CompleteAsync(CallCompletion completion, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var id = completion.ReservationId;
        var counts = completion.Counts ?? [];
        CompletionResult result;
        try
        {
            result = completion.Charge is { } charge
                ? Settled(await _credits.SettleAsync(id, charge, now, cancellationToken).ConfigureAwait(false))
                : await ReleaseAsync(id, now, cancellationToken).ConfigureAwait(false);
        }
        catch when (counts.Count > 0)
        {
            // It may have applied: a write again that finds it completed moves its counts.
            _owed[id] = 0;
            throw;
        }

        var owed = counts.Count > 0 && _owed.TryRemove(id, out _);
        if (counts.Count == 0 || result.Status == CompletionStatus.NotActive || (result.Status == CompletionStatus.AlreadyCompleted && !owed))
        {
            return result;
        }

        try
        {
            return result with { Counted = await _counters.IncrementAsync(counts, cancellationToken).ConfigureAwait(false) };
        }
        catch
        {
            _owed[id] = 0;
            throw;
        }
    }

    private static CompletionResult Settled(SettleResult settled) => settled.Status switch
    {
        SettleStatus.Settled => new CompletionResult(CompletionStatus.Completed, settled.Entry),
        SettleStatus.AlreadySettled => new CompletionResult(CompletionStatus.AlreadyCompleted, settled.Entry),
        _ => new CompletionResult(CompletionStatus.NotActive),
    };

    private async ValueTask<CompletionResult> ReleaseAsync(string reservationId, DateTimeOffset now, CancellationToken cancellationToken)
    {
        if (await _credits.ReleaseAsync(reservationId, now, cancellationToken).ConfigureAwait(false))
        {
            return new CompletionResult(CompletionStatus.Completed);
        }

        // Not active: released by an earlier write of this completion, or expired, settled or gone.
        var reservation = await _credits.FindReservationAsync(reservationId, cancellationToken).ConfigureAwait(false);
        return new CompletionResult(reservation?.State == ReservationState.Released ? CompletionStatus.AlreadyCompleted : CompletionStatus.NotActive);
    }
}
