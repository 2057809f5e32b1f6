using System.Globalization;
using MongoDB.Driver;

namespace UsageBilling.Mongo;

/// <summary>
/// The MongoDB <see cref="ICreditStore"/>. It needs no replica set and no multi-document transaction: every money
/// move is one atomic update of the account's balance document, and every other write is either decided by a
/// conditional update or can be redone from what that document records.
/// </summary>
/// <remarks>
/// <para>
/// <b>Balance document</b> (<see cref="BalanceDocument"/>, one per account): <c>bal</c> (the ledger sum), <c>res</c>
/// (the sum of holds), <c>seq</c> (the number of applied ledger entries), <c>holds</c> (one per active reservation
/// generation) and <c>pend</c> (ledger entries claimed or applied but not yet in the ledger collection).
/// </para>
/// <para>
/// <b>Reserve</b>: one <c>findOneAndUpdate</c> with the filter <c>{ _id, "holds.k": { $ne: key }, $expr: bal - res ≥ amount }</c>
/// and <c>$inc res, $push hold</c>; then the reservation document is inserted (unique on account + key). If that
/// insert finds the key taken (a race with an earlier reservation), the hold is removed again and the existing
/// reservation is reported; the extra hold in between only ever made less credit available, never more.
/// </para>
/// <para>
/// <b>Settle / release / expire</b>: the reservation changes state with <c>findOneAndUpdate({ _id, st: "active" })</c>,
/// so one caller wins. The winner then removes the hold with an update filtered on the hold being present
/// (<c>holds: { $elemMatch: { r, g } }</c>); a settle's charge rides in that same update (<c>bal</c>, <c>res</c>,
/// <c>seq</c> and an applied ledger entry in <c>pend</c>), so it happens exactly once. If the process dies between the
/// two updates, the hold is left on an account whose reservation is no longer active; repair (below) finishes it
/// from the reservation document, under the same filter.
/// </para>
/// <para>
/// <b>Ledger entries</b> (grants, refunds, adjustments, direct charges, charges for expired reservations):
/// (1) claim the key in <c>pend</c> with <c>{ "pend.k": { $ne: key } }</c>, moving no money; (2) look the key up in
/// the ledger collection: an entry that finished earlier is found now, because its claim was only removed after it
/// was written; (3) apply: a pipeline update filtered on the claim still being claimed (and, for covered debits, on
/// <c>bal - res ≥ -amount</c>) adds the amount, takes the next <c>seq</c> and marks the claim applied with its
/// sequence and balance-after; (4) insert the entry into the ledger collection (by id, so repeating it is harmless);
/// (5) remove it from <c>pend</c>. Money moves only in (3), once per claim, and a key is claimed by one writer at a time.
/// </para>
/// <para>
/// <b>Repair</b> (before ledger reads, by losers of a race that need the result, and by the sweeper through
/// <see cref="ExpireReservationsAsync"/>): applied entries still in <c>pend</c> are copied to the ledger; claims older
/// than <see cref="UsageBillingMongoOptions.AbandonedClaimTimeout"/> are dropped (no money moved for them); each hold
/// is compared with its reservation: a reservation missing after a crash is inserted from the hold, a revival is
/// completed, and a hold whose reservation generation ended is removed (charged first if it ended settled);
/// expired reservations settled for a charge that was cut off have the charge written under its idempotency key.
/// </para>
/// </remarks>
internal sealed partial class MongoCreditStore : ICreditStore
{
    private const int MaxAttempts = 200;
    private const string SettleKeyPrefix = "settle:";

    private readonly MongoBillingDatabase _database;
    private readonly TimeProvider _timeProvider;

    public MongoCreditStore(MongoBillingDatabase database, TimeProvider timeProvider)
    {
        _database = database;
        _timeProvider = timeProvider;
    }

    public async ValueTask<CreditBalance> GetBalanceAsync(string accountId, CancellationToken cancellationToken = default)
    {
        var balance = await _database.Balances.Find(CreditDefinitions.Balance(accountId))
            .Project<BalanceDocument>(Builders<BalanceDocument>.Projection.Exclude(d => d.Holds).Exclude(d => d.Pending))
            .FirstOrDefaultAsync(cancellationToken).ConfigureAwait(false);
        return balance?.ToBalance() ?? default;
    }

    public async ValueTask<ReserveResult> ReserveAsync(CreditReservationRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        for (var attempt = 0; attempt < MaxAttempts; attempt++)
        {
            var existing = await _database.Reservations.Find(CreditDefinitions.ReservationByKey(request.AccountId, request.IdempotencyKey))
                .FirstOrDefaultAsync(cancellationToken).ConfigureAwait(false);
            ReserveResult? result;
            if (existing is null)
            {
                result = await TryReserveNewAsync(request, cancellationToken).ConfigureAwait(false);
            }
            else
            {
                // Released, expired or settled is final: the same key never holds again.
                result = new ReserveResult(ReserveStatus.Duplicate, existing.ToReservation());
            }

            if (result is not null)
            {
                return result;
            }
        }

        throw new TimeoutException($"Reserving on account '{request.AccountId}' kept colliding with concurrent changes; try again.");
    }

    public async ValueTask<SettleResult> SettleAsync(string reservationId, Money actualAmount, DateTimeOffset now, CancellationToken cancellationToken = default)
    {
        for (var attempt = 0; attempt < MaxAttempts; attempt++)
        {
            var fromActive = await _database.Reservations.FindOneAndUpdateAsync(
                CreditDefinitions.ReservationIn(reservationId, ReservationStates.Active),
                CreditDefinitions.SettleFromActive(actualAmount.Nanos, now),
                CreditDefinitions.ReservationAfter, cancellationToken).ConfigureAwait(false);
            if (fromActive is not null)
            {
                return new SettleResult(SettleStatus.Settled, await ChargeSettledHoldAsync(fromActive, cancellationToken).ConfigureAwait(false));
            }

            // An expired hold was already removed by the sweeper; the call still happened, so it is charged.
            var fromExpired = await _database.Reservations.FindOneAndUpdateAsync(
                CreditDefinitions.ReservationIn(reservationId, ReservationStates.Expired),
                CreditDefinitions.SettleFromExpired(actualAmount.Nanos, now, StoreTicks()),
                CreditDefinitions.ReservationAfter, cancellationToken).ConfigureAwait(false);
            if (fromExpired is not null)
            {
                return new SettleResult(SettleStatus.Settled, await WriteExpiredChargeAsync(fromExpired, cancellationToken).ConfigureAwait(false));
            }

            var stored = await FindReservationDocumentAsync(reservationId, cancellationToken).ConfigureAwait(false);
            switch (stored?.State)
            {
                case null or ReservationStates.Released:
                    return new SettleResult(SettleStatus.NotActive, null);
                case ReservationStates.Settled:
                    return new SettleResult(SettleStatus.AlreadySettled, await FindSettleChargeAsync(stored, cancellationToken).ConfigureAwait(false));
            }

            // Expired between the two updates: try again against the new state.
        }

        throw new TimeoutException($"Settling reservation '{reservationId}' kept colliding with concurrent changes; try again.");
    }

    public async ValueTask<bool> ReleaseAsync(string reservationId, DateTimeOffset now, CancellationToken cancellationToken = default)
    {
        var released = await _database.Reservations.FindOneAndUpdateAsync(
            CreditDefinitions.ReservationIn(reservationId, ReservationStates.Active),
            CreditDefinitions.SetState(ReservationStates.Released),
            CreditDefinitions.ReservationAfter, cancellationToken).ConfigureAwait(false);
        if (released is null)
        {
            return false;
        }

        await RemoveHoldAsync(released.AccountId, released.Id, released.Generation, released.Amount, cancellationToken).ConfigureAwait(false);
        return true;
    }

    public async ValueTask<CreditReservation?> FindReservationAsync(string reservationId, CancellationToken cancellationToken = default)
        => (await FindReservationDocumentAsync(reservationId, cancellationToken).ConfigureAwait(false))?.ToReservation();

    public ValueTask<PostResult> PostAsync(LedgerPostRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);

        // No balance can absorb a move this large (the apply filter's bounds would not even fit in 64 bits).
        if (!CreditBalance.IsWithinLimit(Money.Zero, new Money(request.Amount.Nanos / 2)))
        {
            return ValueTask.FromResult(new PostResult(PostStatus.LimitExceeded, null));
        }
        var entry = new PendingLedgerEntryDocument
        {
            Id = request.EntryId,
            IdempotencyKey = request.IdempotencyKey,
            Kind = LedgerEntryKinds.Format(request.Kind),
            Amount = request.Amount.Nanos,
            Reference = request.Reference,
            Reason = request.Reason,
            CreatedAt = TimestampDocument.From(request.CreatedAt),
        };
        return PostEntryAsync(request.AccountId, entry, request.RequireAvailableBalance, cancellationToken);
    }

    public async ValueTask<LedgerPage> GetLedgerAsync(string accountId, int limit, string? cursor, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        long? before = null;
        if (cursor is not null)
        {
            if (!long.TryParse(cursor, NumberStyles.None, CultureInfo.InvariantCulture, out var sequence))
            {
                // Like the in-memory store: a cursor this store never issued has nothing after it.
                return new LedgerPage([], null);
            }

            before = sequence;
        }

        // Entries applied to the balance but not yet copied (their writer is mid-way or died) are copied first,
        // so the ledger read always sums to the balance.
        var balance = await FindBalanceDocumentAsync(accountId, cancellationToken).ConfigureAwait(false);
        if (balance is not null && balance.Pending.Count > 0)
        {
            await FlushPendingAsync(balance, cancellationToken).ConfigureAwait(false);
        }

        var documents = await _database.Ledger.Find(CreditDefinitions.LedgerPage(accountId, before))
            .Sort(CreditDefinitions.NewestFirst)
            .Limit(limit + 1)
            .ToListAsync(cancellationToken).ConfigureAwait(false);
        var entries = documents.Take(limit).Select(d => d.ToEntry()).ToList();
        var next = documents.Count > limit ? documents[limit - 1].Sequence.ToString(CultureInfo.InvariantCulture) : null;
        return new LedgerPage(entries, next);
    }

    public async ValueTask<int> ExpireReservationsAsync(DateTimeOffset now, DateTimeOffset createdBefore, int maxCount, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxCount, 1);
        var expired = 0;
        while (expired < maxCount)
        {
            var due = await _database.Reservations.Find(CreditDefinitions.Due(now, createdBefore))
                .Sort(CreditDefinitions.DueOrder)
                .Limit(maxCount - expired)
                .ToListAsync(cancellationToken).ConfigureAwait(false);
            if (due.Count == 0)
            {
                break;
            }

            foreach (var reservation in due)
            {
                var won = await _database.Reservations.FindOneAndUpdateAsync(
                    CreditDefinitions.ReservationIn(reservation.Id, reservation.Generation, ReservationStates.Active),
                    CreditDefinitions.SetState(ReservationStates.Expired),
                    CreditDefinitions.ReservationAfter, cancellationToken).ConfigureAwait(false);
                if (won is not null)
                {
                    await RemoveHoldAsync(won.AccountId, won.Id, won.Generation, won.Amount, cancellationToken).ConfigureAwait(false);
                    expired++;
                }
            }
        }

        await RepairAsync(now, maxCount, cancellationToken).ConfigureAwait(false);
        return expired;
    }

    /// <summary>A new reservation: hold the credit, then insert the reservation; <see langword="null"/> to try again.</summary>
    private async Task<ReserveResult?> TryReserveNewAsync(CreditReservationRequest request, CancellationToken cancellationToken)
    {
        var hold = NewHold(request.ReservationId, 1, request, request.Reference);
        var (result, balance) = await TryHoldAsync(request.AccountId, hold, cancellationToken).ConfigureAwait(false);
        if (balance is null)
        {
            return result;
        }

        switch (await TryInsertReservationAsync(hold.ToActiveReservation(request.AccountId), cancellationToken).ConfigureAwait(false))
        {
            case ReservationInsert.Inserted or ReservationInsert.AlreadyThere:
                return new ReserveResult(ReserveStatus.Reserved, hold.ToReservation(request.AccountId), balance);
            case ReservationInsert.IdTaken:
                await RemoveHoldAsync(request.AccountId, hold.ReservationId, hold.Generation, hold.Amount, cancellationToken).ConfigureAwait(false);
                throw new InvalidOperationException($"A reservation with id '{request.ReservationId}' already exists for another account or key.");
            default:
                // The key was taken by a reservation that appeared since we looked: give the hold back and report that one.
                await RemoveHoldAsync(request.AccountId, hold.ReservationId, hold.Generation, hold.Amount, cancellationToken).ConfigureAwait(false);
                return null;
        }
    }

    /// <summary>
    /// Places a hold. Returns the balance after it, or a final result (insufficient credit, a duplicate key) with no
    /// balance, or neither when the caller should look again.
    /// </summary>
    private async Task<(ReserveResult? Result, CreditBalance? Balance)> TryHoldAsync(string accountId, HoldDocument hold, CancellationToken cancellationToken)
    {
        var placed = await _database.Balances.FindOneAndUpdateAsync(
            CreditDefinitions.CanHold(accountId, hold.IdempotencyKey, hold.Amount),
            CreditDefinitions.Hold(hold),
            CreditDefinitions.ReturnAfter, cancellationToken).ConfigureAwait(false);
        if (placed is not null)
        {
            return (null, placed.ToBalance());
        }

        var current = await FindBalanceDocumentAsync(accountId, cancellationToken).ConfigureAwait(false);
        if (current is null)
        {
            if (hold.Amount > 0)
            {
                return (new ReserveResult(ReserveStatus.InsufficientCredit, null, default(CreditBalance)), null);
            }

            await EnsureBalanceAsync(accountId, cancellationToken).ConfigureAwait(false);
            return (null, null);
        }

        var sameKey = current.Holds.Find(h => string.Equals(h.IdempotencyKey, hold.IdempotencyKey, StringComparison.Ordinal));
        if (sameKey is null)
        {
            return current.Balance - current.Reserved >= hold.Amount
                ? (null, null)
                : (new ReserveResult(ReserveStatus.InsufficientCredit, null, current.ToBalance()), null);
        }

        if (await RepairHoldsAsync(current, cancellationToken).ConfigureAwait(false))
        {
            return (null, null);
        }

        // A live hold with this key: its reservation is active (or being inserted right now).
        return (new ReserveResult(ReserveStatus.Duplicate, sameKey.ToReservation(accountId), current.ToBalance()), null);
    }

    private static HoldDocument NewHold(string reservationId, int generation, CreditReservationRequest request, string? reference) => new()
    {
        ReservationId = reservationId,
        Generation = generation,
        IdempotencyKey = request.IdempotencyKey,
        Amount = request.Amount.Nanos,
        Reference = reference,
        CreatedAt = TimestampDocument.From(request.CreatedAt),
        ExpiresAt = TimestampDocument.From(request.ExpiresAt),
    };

    private async Task<ReservationInsert> TryInsertReservationAsync(ReservationDocument reservation, CancellationToken cancellationToken)
    {
        try
        {
            await _database.Reservations.InsertOneAsync(reservation, options: null, cancellationToken).ConfigureAwait(false);
            return ReservationInsert.Inserted;
        }
        catch (MongoWriteException ex) when (MongoErrors.IsDuplicateKey(ex))
        {
            var stored = await FindReservationDocumentAsync(reservation.Id, cancellationToken).ConfigureAwait(false);
            if (stored is null)
            {
                return ReservationInsert.KeyTaken;
            }

            return string.Equals(stored.AccountId, reservation.AccountId, StringComparison.Ordinal)
                && string.Equals(stored.IdempotencyKey, reservation.IdempotencyKey, StringComparison.Ordinal)
                ? ReservationInsert.AlreadyThere
                : ReservationInsert.IdTaken;
        }
    }

    private async Task<bool> RemoveHoldAsync(string accountId, string reservationId, int generation, long amount, CancellationToken cancellationToken)
    {
        var result = await _database.Balances.UpdateOneAsync(
            CreditDefinitions.HoldPresent(accountId, reservationId, generation),
            CreditDefinitions.RemoveHold(reservationId, generation, amount),
            options: null, cancellationToken).ConfigureAwait(false);
        return result.ModifiedCount > 0;
    }

    private async Task EnsureBalanceAsync(string accountId, CancellationToken cancellationToken)
    {
        try
        {
            await _database.Balances.InsertOneAsync(CreditDefinitions.NewBalance(accountId), options: null, cancellationToken).ConfigureAwait(false);
        }
        catch (MongoWriteException ex) when (MongoErrors.IsDuplicateKey(ex))
        {
            // Created by a concurrent call.
        }
    }

    private Task<BalanceDocument?> FindBalanceDocumentAsync(string accountId, CancellationToken cancellationToken)
        => _database.Balances.Find(CreditDefinitions.Balance(accountId)).FirstOrDefaultAsync(cancellationToken)!;

    private Task<ReservationDocument?> FindReservationDocumentAsync(string reservationId, CancellationToken cancellationToken)
        => _database.Reservations.Find(CreditDefinitions.Reservation(reservationId)).FirstOrDefaultAsync(cancellationToken)!;

    private long StoreTicks() => _timeProvider.GetUtcNow().UtcTicks;

    private long AbandonedBefore() => StoreTicks() - _database.Options.AbandonedClaimTimeout.Ticks;

    private enum ReservationInsert
    {
        Inserted,
        AlreadyThere,
        KeyTaken,
        IdTaken,
    }
}
