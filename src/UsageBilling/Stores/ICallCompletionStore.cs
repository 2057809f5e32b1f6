namespace UsageBilling.Stores;

/// <summary>
/// Writes completed calls in groups: each call's settle or release, its usage record and the corrections of its
/// counters, for many calls at once.
/// The metering middleware queues every completion and hands the queue to this store a batch at a time, so that
/// many calls share one database transaction (group commit). The default implementation calls
/// <see cref="ICreditStore"/> and <see cref="IUsageStore"/>; a backend that keeps both in one database implements it
/// as one transaction, so that the ledger and the usage log never disagree.
/// </summary>
/// <remarks>
/// A batch may be written again after a failure (or after a lost reply): every part must be idempotent. A settle or
/// release already applied reports <see cref="CompletionStatus.AlreadyCompleted"/> and moves no money again; usage
/// records are idempotent by <see cref="UsageRecord.RequestId"/>, as in <see cref="IUsageStore.AppendAsync"/>.
/// </remarks>
public interface ICallCompletionStore
{
    /// <summary>
    /// Settles or releases each reservation and writes each usage record, returning one result per completion in
    /// the same order. Writes each record as given when its completion applies (or was applied before); when the
    /// reservation is no longer active or expired it writes the record with a zero cost and the outcome
    /// <see cref="UsageOutcomes.Failed"/> (or <see cref="UsageOutcomes.NotCharged"/> for a release). Applies each
    /// completion's <see cref="CallCompletion.Counts"/> exactly once, with the completion: when it is
    /// <see cref="CompletionStatus.Completed"/> by this write (or by an earlier write that failed before its counts
    /// moved), never for a completion not active or completed and counted before — so that a batch written again
    /// moves no counter again — as <see cref="ICounterStore.IncrementAsync"/> would, and answers their values in
    /// <see cref="CompletionResult.Counted"/>. A store that keeps counters in the same database applies them in the
    /// transaction of the charge.
    /// </summary>
    ValueTask<IReadOnlyList<CompletionResult>> CompleteAsync(IReadOnlyList<CallCompletion> completions, DateTimeOffset now, CancellationToken cancellationToken = default);
}

/// <summary>One completed call: its reservation, what it is charged (nothing: released), its usage record, and what it corrects in its counters.</summary>
/// <param name="ReservationId">The call's reservation.</param>
/// <param name="Charge">The amount to charge (settle), or <see langword="null"/> to release the hold without a charge.</param>
/// <param name="Record">The call's usage record, or <see langword="null"/> when the call leaves none.</param>
/// <param name="Counts">
/// Counter increments to apply with the completion — what the call actually used against what it counted when admitted
/// (its tokens, its budget spend) — or <see langword="null"/> (none). Applied only when the completion is
/// <see cref="CompletionStatus.Completed"/> by the write that answers it.
/// </param>
public sealed record CallCompletion(string ReservationId, Money? Charge, UsageRecord? Record, IReadOnlyList<CounterIncrement>? Counts = null)
{
    /// <summary>
    /// The usage record to write once the completion has <paramref name="status"/>: <see cref="Record"/> as given, or,
    /// when the reservation was no longer active, with a zero cost and the outcome <see cref="UsageOutcomes.Failed"/>
    /// (a settle) or <see cref="UsageOutcomes.NotCharged"/> (a release). <see langword="null"/> without a record.
    /// </summary>
    public UsageRecord? RecordFor(CompletionStatus status) => Record is null || status != CompletionStatus.NotActive
        ? Record
        : Record with { Cost = Money.Zero, Outcome = Charge is null ? UsageOutcomes.NotCharged : UsageOutcomes.Failed };
}

/// <summary>What became of a <see cref="CallCompletion"/>.</summary>
public enum CompletionStatus
{
    /// <summary>Settled (charged, with a ledger entry unless zero) or released now.</summary>
    Completed,

    /// <summary>Settled or released by an earlier write of the same completion; nothing moved again.</summary>
    AlreadyCompleted,

    /// <summary>The reservation was released, expired (for a release) or is unknown: nothing was charged.</summary>
    NotActive,
}

/// <summary>The result of one <see cref="CallCompletion"/>.</summary>
/// <param name="Status">What happened.</param>
/// <param name="Entry">The charge's ledger entry when a settle was completed now with a non-zero amount.</param>
/// <param name="Counted">
/// When the completion's <see cref="CallCompletion.Counts"/> were applied by this write: each counter's value after them,
/// in their order (a store that moves a batch's counts together answers each key's value after the whole batch);
/// otherwise <see langword="null"/>.
/// </param>
public readonly record struct CompletionResult(CompletionStatus Status, LedgerEntry? Entry = null, IReadOnlyList<long>? Counted = null);
