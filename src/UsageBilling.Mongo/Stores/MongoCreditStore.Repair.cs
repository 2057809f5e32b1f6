using MongoDB.Driver;

namespace UsageBilling.Mongo;

/// <summary>
/// Repair: finishes what a caller that died between two updates left behind. Every step is guarded by the same
/// condition as the step it finishes (a hold being present, a claim being applied, a reservation being in a given
/// state and generation), so repair running next to a live caller, or twice, changes nothing twice.
/// </summary>
internal sealed partial class MongoCreditStore
{
    /// <summary>
    /// Repairs up to <paramref name="maxCount"/> accounts whose balance document has a pending entry older than the
    /// abandoned-claim timeout or a hold past its expiry, and finishes cut-off charges of expired reservations.
    /// </summary>
    internal async Task RepairAsync(DateTimeOffset now, int maxCount, CancellationToken cancellationToken)
    {
        var abandonedBefore = AbandonedBefore();
        var balances = await _database.Balances.Find(CreditDefinitions.NeedsRepair(abandonedBefore, now.UtcTicks))
            .Limit(maxCount)
            .ToListAsync(cancellationToken).ConfigureAwait(false);
        foreach (var balance in balances)
        {
            await FlushPendingAsync(balance, cancellationToken).ConfigureAwait(false);
            await RepairHoldsAsync(balance, cancellationToken).ConfigureAwait(false);
        }

        var charges = await _database.Reservations.Find(CreditDefinitions.ChargePending(abandonedBefore))
            .Limit(maxCount)
            .ToListAsync(cancellationToken).ConfigureAwait(false);
        foreach (var settled in charges)
        {
            await WriteExpiredChargeAsync(settled, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Compares each hold on the account with its reservation and finishes what is unfinished. Returns whether a hold was removed.</summary>
    private async Task<bool> RepairHoldsAsync(BalanceDocument balance, CancellationToken cancellationToken)
    {
        if (balance.Holds.Count == 0)
        {
            return false;
        }

        var ids = balance.Holds.Select(h => h.ReservationId).Distinct(StringComparer.Ordinal).ToList();
        var reservations = (await _database.Reservations.Find(Builders<ReservationDocument>.Filter.In(d => d.Id, ids))
            .ToListAsync(cancellationToken).ConfigureAwait(false))
            .ToDictionary(d => d.Id, StringComparer.Ordinal);
        var removed = false;
        foreach (var hold in balance.Holds)
        {
            removed |= await RepairHoldAsync(balance.AccountId, hold, reservations.GetValueOrDefault(hold.ReservationId), cancellationToken).ConfigureAwait(false);
        }

        return removed;
    }

    private async Task<bool> RepairHoldAsync(string accountId, HoldDocument hold, ReservationDocument? reservation, CancellationToken cancellationToken)
    {
        for (var attempt = 0; attempt < 3; attempt++)
        {
            if (reservation is null)
            {
                // The reserver died (or is about to insert) after placing the hold: insert the reservation from it.
                switch (await TryInsertReservationAsync(hold.ToActiveReservation(accountId), cancellationToken).ConfigureAwait(false))
                {
                    case ReservationInsert.Inserted:
                        return false;
                    case ReservationInsert.AlreadyThere:
                        reservation = await FindReservationDocumentAsync(hold.ReservationId, cancellationToken).ConfigureAwait(false);
                        continue;
                    default:
                        // Another reservation owns the key (or the id): this hold can never become a reservation.
                        return await RemoveHoldAsync(accountId, hold.ReservationId, hold.Generation, hold.Amount, cancellationToken).ConfigureAwait(false);
                }
            }

            if (reservation.Generation > hold.Generation)
            {
                // A later generation exists, so this one ended released or expired (settled is final): no charge.
                return await RemoveHoldAsync(accountId, hold.ReservationId, hold.Generation, hold.Amount, cancellationToken).ConfigureAwait(false);
            }

            if (reservation.Generation == hold.Generation)
            {
                switch (reservation.State)
                {
                    case ReservationStates.Active:
                        return false;
                    case ReservationStates.Settled when reservation.SettledFromActive == true:
                        await ChargeSettledHoldAsync(reservation, cancellationToken).ConfigureAwait(false);
                        return true;
                    default:
                        return await RemoveHoldAsync(accountId, hold.ReservationId, hold.Generation, hold.Amount, cancellationToken).ConfigureAwait(false);
                }
            }

            // An older generation: only a revival (which older versions did) placed such holds; reservations are
            // never revived now, so the hold can never become active again.
            return await RemoveHoldAsync(accountId, hold.ReservationId, hold.Generation, hold.Amount, cancellationToken).ConfigureAwait(false);
        }

        return false;
    }
}
