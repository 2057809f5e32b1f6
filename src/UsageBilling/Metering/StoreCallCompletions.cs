namespace UsageBilling;

/// <summary>
/// The default <see cref="ICallCompletionStore"/>: each settle or release through <see cref="ICreditStore"/>, and the
/// usage records handed to the asynchronous usage log (which retries, dead-letters and never blocks a call on a slow
/// usage store). Not one transaction: a crash can lose records of charges that were written (see docs/production.md).
/// A batch written again finds its charges <see cref="CompletionStatus.AlreadyCompleted"/>; records are idempotent.
/// </summary>
internal sealed class StoreCallCompletions : ICallCompletionStore
{
    private readonly ICreditStore _credits;
    private readonly UsageLogQueue _usageLog;

    public StoreCallCompletions(ICreditStore credits, UsageLogQueue usageLog)
    {
        _credits = credits;
        _usageLog = usageLog;
    }

    public async ValueTask<IReadOnlyList<CompletionResult>> CompleteAsync(IReadOnlyList<CallCompletion> completions, DateTimeOffset now, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(completions);
        var results = new CompletionResult[completions.Count];
        for (var i = 0; i < completions.Count; i++)
        {
            var completion = completions[i];
            results[i] = completion.Charge is { } charge
                ? Settled(await _credits.SettleAsync(completion.ReservationId, charge, now, cancellationToken).ConfigureAwait(false))
                : await ReleaseAsync(completion.ReservationId, now, cancellationToken).ConfigureAwait(false);
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
