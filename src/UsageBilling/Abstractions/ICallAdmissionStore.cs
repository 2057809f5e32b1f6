namespace UsageBilling;

/// <summary>
/// Admits metered calls in one step where the backend can: counts each call in every limit window and budget period
/// and, when the counts allow it, holds its price — one transaction for a whole group of calls, so each call is counted
/// and held together or not at all. Optional: the default answers <see cref="CallAdmissionStatus.NotHandled"/>, and
/// each call is counted through <see cref="IRateLimitCounterStore"/> and held through <see cref="ICreditStore"/>, one
/// after the other.
/// </summary>
/// <remarks>
/// Calls arriving together are handed over as one group (group commit): one writer at a time, so a store sees one
/// group at a time from each app instance (several instances may call it at once).
/// </remarks>
public interface ICallAdmissionStore
{
    /// <summary>
    /// Decides <paramref name="calls"/> in their order, as if each were admitted alone after the ones before it: adds
    /// a call's increments as <see cref="IRateLimitCounterStore.IncrementAsync"/> would, asks its
    /// <see cref="CallAdmissionRequest.Admit"/> with the counts (the earlier admitted calls of the group counted, the
    /// refused ones not), and if it accepts, holds its reservation as <see cref="ICreditStore.ReserveAsync"/> would.
    /// What is kept — the admitted calls' counts and holds — is committed together. Anything but a plain new hold for a
    /// call — a reservation with its key exists, the available balance may not cover it — keeps nothing of that call
    /// and answers <see cref="CallAdmissionStatus.NotHandled"/>: the caller then counts and reserves it through the
    /// separate stores, which answer those cases in full.
    /// </summary>
    /// <param name="calls">The calls, in the order they are decided (at least one).</param>
    /// <param name="cancellationToken">Cancels the write.</param>
    /// <returns>One result per call, in the order of <paramref name="calls"/>.</returns>
    ValueTask<IReadOnlyList<CallAdmissionResult>> TryAdmitAsync(IReadOnlyList<CallAdmissionRequest> calls, CancellationToken cancellationToken = default);
}

/// <summary>One call for <see cref="ICallAdmissionStore.TryAdmitAsync"/> to admit.</summary>
/// <param name="Increments">The call's counter increments (may be empty).</param>
/// <param name="Admit">Decides from the counts, in the order of <paramref name="Increments"/> and with this call counted, whether the call may go on; it must not block.</param>
/// <param name="Reservation">The hold to take when admitted.</param>
public sealed record CallAdmissionRequest(IReadOnlyList<CounterIncrement> Increments, Func<IReadOnlyList<long>, bool> Admit, CreditReservationRequest Reservation);

/// <summary>What <see cref="ICallAdmissionStore.TryAdmitAsync"/> did.</summary>
public enum CallAdmissionStatus
{
    /// <summary>Not done here; nothing was kept. Count and reserve through the separate stores.</summary>
    NotHandled,

    /// <summary>Counted and held, both kept.</summary>
    Admitted,

    /// <summary>The counts refused the call; nothing was kept (the counts are what they would have been).</summary>
    Refused,
}

/// <summary>The result of <see cref="ICallAdmissionStore.TryAdmitAsync"/>.</summary>
/// <param name="Status">What was done.</param>
/// <param name="Counts">The counter values with this call counted, in the order of the increments; empty when not handled.</param>
/// <param name="Reservation">The hold taken, when admitted.</param>
public readonly record struct CallAdmissionResult(CallAdmissionStatus Status, IReadOnlyList<long> Counts, CreditReservation? Reservation);
