namespace UsageBilling;

/// <summary>
/// Admits a metered call in one step where the backend can: counts it in every limit window and budget period and,
/// when the counts allow it, holds its price — one transaction, so the call is counted and held together or not
/// at all. Optional: the default answers <see cref="CallAdmissionStatus.NotHandled"/>, and the call is counted
/// through <see cref="IRateLimitCounterStore"/> and held through <see cref="ICreditStore"/>, one after the other.
/// </summary>
public interface ICallAdmissionStore
{
    /// <summary>
    /// Adds <paramref name="increments"/> as <see cref="IRateLimitCounterStore.IncrementAsync"/> would; if
    /// <paramref name="admit"/> accepts the counts (with this call) holds <paramref name="reservation"/> as
    /// <see cref="ICreditStore.ReserveAsync"/> would, and keeps both. Anything but a plain new hold — a reservation
    /// with the same key exists, the available balance does not cover it — keeps nothing and answers
    /// <see cref="CallAdmissionStatus.NotHandled"/>: the caller then counts and reserves through the separate stores,
    /// which answer those cases in full.
    /// </summary>
    /// <param name="increments">The call's counter increments (may be empty).</param>
    /// <param name="admit">Decides from the counts, in the order of <paramref name="increments"/>, whether the call may go on; it must not block.</param>
    /// <param name="reservation">The hold to take when admitted.</param>
    /// <param name="cancellationToken">Cancels the write.</param>
    ValueTask<CallAdmissionResult> TryAdmitAsync(IReadOnlyList<CounterIncrement> increments, Func<IReadOnlyList<long>, bool> admit, CreditReservationRequest reservation,
        CancellationToken cancellationToken = default);
}

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
