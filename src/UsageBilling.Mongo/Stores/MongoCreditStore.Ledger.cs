using MongoDB.Driver;

namespace UsageBilling.Mongo;

/// <summary>Ledger entries: claim, check, apply, copy (see the class remarks), and the charges of settles.</summary>
internal sealed partial class MongoCreditStore
{
    /// <summary>Writes <paramref name="entry"/> once per idempotency key on the account.</summary>
    private async ValueTask<PostResult> PostEntryAsync(string accountId, PendingLedgerEntryDocument entry, bool requireAvailableBalance, CancellationToken cancellationToken)
    {
        entry.State = PendingLedgerEntryDocument.Claimed;
        for (var attempt = 0; attempt < MaxAttempts; attempt++)
        {
            // (1) Claim the key on the account. No money moves.
            entry.ClaimedAt = StoreTicks();
            var claim = await _database.Balances.UpdateOneAsync(
                CreditDefinitions.CanClaim(accountId, entry.IdempotencyKey),
                CreditDefinitions.Claim(entry),
                options: null, cancellationToken).ConfigureAwait(false);
            if (claim.ModifiedCount == 0)
            {
                var duplicate = await WaitForOtherClaimAsync(accountId, entry.IdempotencyKey, attempt, cancellationToken).ConfigureAwait(false);
                if (duplicate is not null)
                {
                    return duplicate;
                }

                continue;
            }

            // (2) With the claim standing, an entry written earlier under this key is in the ledger collection:
            // its claim was removed only after it was copied there.
            var existing = await _database.Ledger.Find(CreditDefinitions.LedgerByKey(accountId, entry.IdempotencyKey))
                .FirstOrDefaultAsync(cancellationToken).ConfigureAwait(false);
            if (existing is not null)
            {
                await DropClaimAsync(accountId, entry.Id, cancellationToken).ConfigureAwait(false);
                return new PostResult(PostStatus.Duplicate, existing.ToEntry());
            }

            // (3) Apply: the only step that moves money, and it can succeed once per claim.
            var applied = await _database.Balances.FindOneAndUpdateAsync(
                CreditDefinitions.CanApply(accountId, entry.Id, entry.Amount, requireAvailableBalance),
                CreditDefinitions.Apply(entry.Id, entry.Amount),
                CreditDefinitions.ReturnAfter, cancellationToken).ConfigureAwait(false);
            var pending = applied?.Pending.Find(p => p.Id == entry.Id);
            if (pending is null)
            {
                var current = await FindBalanceDocumentAsync(accountId, cancellationToken).ConfigureAwait(false);
                pending = current?.Pending.Find(p => p.Id == entry.Id);
                if (pending is null)
                {
                    continue; // Our claim was dropped as abandoned (we were very slow): nothing moved, start over.
                }

                if (pending.State == PendingLedgerEntryDocument.Claimed)
                {
                    await DropClaimAsync(accountId, entry.Id, cancellationToken).ConfigureAwait(false);
                    if (!CreditBalance.IsWithinLimit(new Money(current!.Balance), new Money(entry.Amount)))
                    {
                        return new PostResult(PostStatus.LimitExceeded, null);
                    }

                    if (requireAvailableBalance && entry.Amount < 0)
                    {
                        // The claim stood, so the available-balance condition is what failed.
                        return new PostResult(PostStatus.InsufficientCredit, null);
                    }

                    continue;
                }
            }

            // (4) + (5) Copy to the ledger collection and remove it from the balance document.
            return new PostResult(PostStatus.Posted, await CopyToLedgerAsync(accountId, pending, cancellationToken).ConfigureAwait(false));
        }

        throw new TimeoutException($"The ledger entry with idempotency key '{entry.IdempotencyKey}' on account '{accountId}' is still being written by another caller; try again.");
    }

    /// <summary>
    /// The claim failed: the account has no balance document yet, or another caller holds the key. Returns the other
    /// caller's entry once it is applied, or <see langword="null"/> to claim again (after a short wait while the other
    /// caller is mid-way, or at once after dropping its claim if it was abandoned).
    /// </summary>
    private async Task<PostResult?> WaitForOtherClaimAsync(string accountId, string idempotencyKey, int attempt, CancellationToken cancellationToken)
    {
        var current = await FindBalanceDocumentAsync(accountId, cancellationToken).ConfigureAwait(false);
        if (current is null)
        {
            await EnsureBalanceAsync(accountId, cancellationToken).ConfigureAwait(false);
            return null;
        }

        var other = current.Pending.Find(p => string.Equals(p.IdempotencyKey, idempotencyKey, StringComparison.Ordinal));
        if (other is null)
        {
            return null;
        }

        if (other.State == PendingLedgerEntryDocument.Applied)
        {
            return new PostResult(PostStatus.Duplicate, other.ToLedgerEntry(accountId).ToEntry());
        }

        if (other.ClaimedAt <= AbandonedBefore())
        {
            await DropClaimAsync(accountId, other.Id, cancellationToken).ConfigureAwait(false);
            return null;
        }

        await Task.Delay(TimeSpan.FromMilliseconds(Math.Min(50, 1 << Math.Min(attempt, 6))), cancellationToken).ConfigureAwait(false);
        return null;
    }

    private async Task DropClaimAsync(string accountId, string entryId, CancellationToken cancellationToken)
        => await _database.Balances.UpdateOneAsync(
            CreditDefinitions.Balance(accountId),
            CreditDefinitions.RemovePending(entryId, PendingLedgerEntryDocument.Claimed),
            options: null, cancellationToken).ConfigureAwait(false);

    /// <summary>Inserts an applied entry into the ledger collection (a repeat finds it there) and removes it from <c>pend</c>.</summary>
    private async Task<LedgerEntry> CopyToLedgerAsync(string accountId, PendingLedgerEntryDocument applied, CancellationToken cancellationToken)
    {
        var document = applied.ToLedgerEntry(accountId);
        try
        {
            await _database.Ledger.InsertOneAsync(document, options: null, cancellationToken).ConfigureAwait(false);
        }
        catch (MongoWriteException ex) when (MongoErrors.IsDuplicateKey(ex))
        {
            var stored = await _database.Ledger.Find(CreditDefinitions.LedgerEntry(document.Id)).FirstOrDefaultAsync(cancellationToken).ConfigureAwait(false);
            if (stored is null || stored.Sequence != document.Sequence)
            {
                throw new InvalidOperationException(
                    $"Ledger entry '{document.Id}' (sequence {document.Sequence}) of account '{accountId}' collides with another entry with the same id, idempotency key or sequence; the ledger collection was changed outside this store.", ex);
            }
        }

        await _database.Balances.UpdateOneAsync(
            CreditDefinitions.Balance(accountId),
            CreditDefinitions.RemovePending(applied.Id, PendingLedgerEntryDocument.Applied),
            options: null, cancellationToken).ConfigureAwait(false);
        return document.ToEntry();
    }

    /// <summary>Copies every applied entry still in <c>pend</c> to the ledger and drops claims whose writer is gone.</summary>
    private async Task FlushPendingAsync(BalanceDocument balance, CancellationToken cancellationToken)
    {
        var abandonedBefore = AbandonedBefore();
        foreach (var pending in balance.Pending)
        {
            if (pending.State == PendingLedgerEntryDocument.Applied)
            {
                await CopyToLedgerAsync(balance.AccountId, pending, cancellationToken).ConfigureAwait(false);
            }
            else if (pending.ClaimedAt <= abandonedBefore)
            {
                await DropClaimAsync(balance.AccountId, pending.Id, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>
    /// Removes the hold of a reservation settled from active and charges the settled amount, in one update that
    /// matches only while the hold is there. Returns the charge, or <see langword="null"/> for zero.
    /// </summary>
    private async Task<LedgerEntry?> ChargeSettledHoldAsync(ReservationDocument settled, CancellationToken cancellationToken)
    {
        var amount = settled.SettledAmount ?? 0;
        if (amount == 0)
        {
            await RemoveHoldAsync(settled.AccountId, settled.Id, settled.Generation, settled.Amount, cancellationToken).ConfigureAwait(false);
            return null;
        }

        var charge = SettleCharge(settled);
        var balance = await _database.Balances.FindOneAndUpdateAsync(
            CreditDefinitions.HoldPresent(settled.AccountId, settled.Id, settled.Generation),
            CreditDefinitions.ChargeHold(settled.Id, settled.Generation, settled.Amount, charge),
            CreditDefinitions.ReturnAfter, cancellationToken).ConfigureAwait(false);
        var applied = balance?.Pending.Find(p => p.Id == charge.Id);
        if (applied is not null)
        {
            return await CopyToLedgerAsync(settled.AccountId, applied, cancellationToken).ConfigureAwait(false);
        }

        // Repair (run by a concurrent caller) charged the hold first.
        return await FindSettleChargeAsync(settled, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Writes the charge of a reservation settled after it expired, once (by its idempotency key), then clears its pending flag.</summary>
    private async Task<LedgerEntry?> WriteExpiredChargeAsync(ReservationDocument settled, CancellationToken cancellationToken)
    {
        if ((settled.SettledAmount ?? 0) == 0)
        {
            return null;
        }

        var charge = SettleCharge(settled);
        var result = await PostEntryAsync(settled.AccountId, charge, requireAvailableBalance: false, cancellationToken).ConfigureAwait(false);
        await _database.Reservations.UpdateOneAsync(
            CreditDefinitions.Reservation(settled.Id), CreditDefinitions.ChargeWritten(), options: null, cancellationToken).ConfigureAwait(false);
        return result.Entry;
    }

    /// <summary>The charge of a settled reservation (finishing it first if its settler was cut off), or <see langword="null"/> for zero.</summary>
    private async Task<LedgerEntry?> FindSettleChargeAsync(ReservationDocument settled, CancellationToken cancellationToken)
    {
        if ((settled.SettledAmount ?? 0) == 0)
        {
            return null;
        }

        if (settled.SettledFromActive != true)
        {
            return await WriteExpiredChargeAsync(settled, cancellationToken).ConfigureAwait(false);
        }

        var key = SettleKeyPrefix + settled.Id;
        for (var attempt = 0; attempt < 2; attempt++)
        {
            var entry = await _database.Ledger.Find(CreditDefinitions.LedgerByKey(settled.AccountId, key))
                .FirstOrDefaultAsync(cancellationToken).ConfigureAwait(false);
            if (entry is not null)
            {
                return entry.ToEntry();
            }

            // The settler may be between its two updates: finish its work (each step is guarded, so this is safe).
            var balance = await FindBalanceDocumentAsync(settled.AccountId, cancellationToken).ConfigureAwait(false);
            if (balance is not null)
            {
                await RepairHoldsAsync(balance, cancellationToken).ConfigureAwait(false);
                balance = await FindBalanceDocumentAsync(settled.AccountId, cancellationToken).ConfigureAwait(false);
                if (balance is not null)
                {
                    await FlushPendingAsync(balance, cancellationToken).ConfigureAwait(false);
                }
            }
        }

        return null;
    }

    /// <summary>The charge of a settle: the same id and idempotency key as the in-memory store uses.</summary>
    private PendingLedgerEntryDocument SettleCharge(ReservationDocument settled) => new()
    {
        Id = settled.Id.Replace("res_", "led_", StringComparison.Ordinal),
        IdempotencyKey = SettleKeyPrefix + settled.Id,
        State = PendingLedgerEntryDocument.Applied,
        Kind = LedgerEntryKinds.Charge,
        Amount = -(settled.SettledAmount ?? 0),
        ReservationId = settled.Id,
        Reference = settled.Reference,
        CreatedAt = settled.SettledAt ?? new TimestampDocument(),
        ClaimedAt = StoreTicks(),
    };
}
