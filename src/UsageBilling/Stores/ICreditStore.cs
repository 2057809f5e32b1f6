namespace UsageBilling.Stores;

/// <summary>
/// Holds account balances, reservations and the ledger. Every operation is atomic in the backing store:
/// <list type="bullet">
/// <item>the balance always equals the sum of the account's ledger entries;</item>
/// <item>a reservation never takes the available balance (balance − active holds) below zero;</item>
/// <item>the same idempotency key never moves money twice on one account (reservations and ledger entries each);</item>
/// <item>a reservation is settled or released at most once.</item>
/// </list>
/// The conformance suite in <c>UsageBilling.Testing</c> checks all of this, concurrency included.
/// </summary>
public interface ICreditStore
{
    /// <summary>The account's balance and active holds; zero for an account that never had a money move.</summary>
    ValueTask<CreditBalance> GetBalanceAsync(string accountId, CancellationToken cancellationToken = default);

    /// <summary>
    /// Holds <see cref="CreditReservationRequest.Amount"/> if the available balance covers it. If a reservation with
    /// the same idempotency key exists, whatever its state, nothing changes and the result is
    /// <see cref="ReserveStatus.Duplicate"/> with that reservation: a released, expired or settled reservation is
    /// final and never holds again (a retry of the call reserves under a new key).
    /// </summary>
    ValueTask<ReserveResult> ReserveAsync(CreditReservationRequest request, CancellationToken cancellationToken = default);

    /// <summary>
    /// Charges <paramref name="actualAmount"/> (which may exceed the amount held; the balance may then go below zero)
    /// for an active or expired reservation, removes its hold and writes a <see cref="LedgerEntryKind.Charge"/> entry
    /// (none for zero), all at once. Settling twice charges once.
    /// </summary>
    ValueTask<SettleResult> SettleAsync(string reservationId, Money actualAmount, DateTimeOffset now, CancellationToken cancellationToken = default);

    /// <summary>Removes an active reservation's hold without a charge. Returns <see langword="false"/> if it was not active.</summary>
    ValueTask<bool> ReleaseAsync(string reservationId, DateTimeOffset now, CancellationToken cancellationToken = default);

    /// <summary>Finds a reservation by id.</summary>
    ValueTask<CreditReservation?> FindReservationAsync(string reservationId, CancellationToken cancellationToken = default);

    /// <summary>Writes a grant, refund, adjustment or direct charge, once per idempotency key.</summary>
    ValueTask<PostResult> PostAsync(LedgerPostRequest request, CancellationToken cancellationToken = default);

    /// <summary>A page of the account's ledger, newest first.</summary>
    /// <param name="accountId">The account.</param>
    /// <param name="limit">The largest number of entries to return (at least 1).</param>
    /// <param name="cursor">A <see cref="LedgerPage.NextCursor"/> from the previous page, or <see langword="null"/> for the first.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    ValueTask<LedgerPage> GetLedgerAsync(string accountId, int limit, string? cursor, CancellationToken cancellationToken = default);

    /// <summary>
    /// Marks up to <paramref name="maxCount"/> active reservations as expired and removes their holds: those whose
    /// expiry is at or before <paramref name="now"/>, and those created at or before <paramref name="createdBefore"/>
    /// whatever their stored expiry (so that a shorter <c>Credits:ReservationTimeout</c> applies to holds made under a
    /// longer one, for example holds left by a crash). Returns how many.
    /// </summary>
    /// <param name="now">Reservations whose <see cref="CreditReservation.ExpiresAt"/> is at or before this are due.</param>
    /// <param name="createdBefore">Reservations whose <see cref="CreditReservation.CreatedAt"/> is at or before this are due too: the sweeper passes now minus the current reservation timeout.</param>
    /// <param name="maxCount">The most reservations to expire in this call (at least 1).</param>
    /// <param name="cancellationToken">Cancels the write.</param>
    ValueTask<int> ExpireReservationsAsync(DateTimeOffset now, DateTimeOffset createdBefore, int maxCount, CancellationToken cancellationToken = default);
}
