using MongoDB.Bson;
using MongoDB.Driver;

namespace UsageBilling.Mongo;

/// <summary>
/// Every filter and update <see cref="MongoCreditStore"/> sends, built here so that tests can render them and check
/// that each money move is one conditional single-document update. Strings that come from callers are wrapped in
/// <c>$literal</c> wherever they appear inside aggregation expressions, so a value starting with <c>$</c> is never
/// read as a field path.
/// </summary>
internal static class CreditDefinitions
{
    private const string Bal = "$" + BalanceDocument.BalanceField;
    private const string Res = "$" + BalanceDocument.ReservedField;
    private const string Seq = "$" + BalanceDocument.SequenceField;

    private static FilterDefinitionBuilder<BalanceDocument> BalanceFilter => Builders<BalanceDocument>.Filter;

    private static FilterDefinitionBuilder<ReservationDocument> ReservationFilter => Builders<ReservationDocument>.Filter;

    // ---- balance documents ----

    public static FilterDefinition<BalanceDocument> Balance(string accountId) => BalanceFilter.Eq(d => d.AccountId, accountId);

    public static BalanceDocument NewBalance(string accountId) => new() { AccountId = accountId };

    /// <summary>
    /// Places a hold: matches only if no hold with the same idempotency key is on the account and the available
    /// balance (<c>bal - res</c>) covers the amount, evaluated by the server in the same atomic update.
    /// </summary>
    public static FilterDefinition<BalanceDocument> CanHold(string accountId, string idempotencyKey, long amount)
        => BalanceFilter.And(
            Balance(accountId),
            BalanceFilter.Ne(HoldsPath(HoldDocument.KeyField), idempotencyKey),
            AvailableAtLeast(amount));

    public static UpdateDefinition<BalanceDocument> Hold(HoldDocument hold)
        => Builders<BalanceDocument>.Update
            .Inc(d => d.Reserved, hold.Amount)
            .Push(d => d.Holds, hold);

    /// <summary>Matches only while the hold of this reservation generation is still on the account: whoever removes it does so once.</summary>
    public static FilterDefinition<BalanceDocument> HoldPresent(string accountId, string reservationId, int generation)
        => BalanceFilter.And(
            Balance(accountId),
            BalanceFilter.ElemMatch(d => d.Holds, HoldIs(reservationId, generation)));

    /// <summary>Removes a hold without a charge (release, expiry, repair of a dead hold).</summary>
    public static UpdateDefinition<BalanceDocument> RemoveHold(string reservationId, int generation, long amount)
        => Builders<BalanceDocument>.Update
            .PullFilter(d => d.Holds, HoldIs(reservationId, generation))
            .Inc(d => d.Reserved, -amount);

    /// <summary>
    /// Settles a hold for a non-zero amount in one pipeline update: removes the hold and its amount from <c>res</c>,
    /// subtracts the charge from <c>bal</c>, takes the next ledger sequence number and appends the charge, marked
    /// applied with its sequence and balance-after, to <c>pend</c>. With <see cref="HoldPresent"/> as the filter it
    /// happens at most once.
    /// </summary>
    public static UpdateDefinition<BalanceDocument> ChargeHold(string reservationId, int generation, long heldAmount, PendingLedgerEntryDocument charge)
    {
        var applied = new BsonDocument
        {
            { PendingLedgerEntryDocument.StateField, PendingLedgerEntryDocument.Applied },
            { PendingLedgerEntryDocument.SequenceField, NextSequence() },
            { PendingLedgerEntryDocument.BalanceAfterField, new BsonDocument("$add", new BsonArray { Bal, charge.Amount }) },
        };
        var entry = new BsonDocument("$mergeObjects", new BsonArray { new BsonDocument("$literal", charge.ToBsonDocument()), applied });
        return Pipeline(new BsonDocument
        {
            { BalanceDocument.BalanceField, new BsonDocument("$add", new BsonArray { Bal, charge.Amount }) },
            { BalanceDocument.ReservedField, new BsonDocument("$subtract", new BsonArray { Res, heldAmount }) },
            { BalanceDocument.SequenceField, NextSequence() },
            {
                BalanceDocument.HoldsField, new BsonDocument("$filter", new BsonDocument
                {
                    { "input", "$" + BalanceDocument.HoldsField },
                    {
                        "cond", new BsonDocument("$not", new BsonArray
                        {
                            new BsonDocument("$and", new BsonArray
                            {
                                new BsonDocument("$eq", new BsonArray { "$$this." + HoldDocument.ReservationIdField, Literal(reservationId) }),
                                new BsonDocument("$eq", new BsonArray { "$$this." + HoldDocument.GenerationField, generation }),
                            }),
                        })
                    },
                })
            },
            { BalanceDocument.PendingField, new BsonDocument("$concatArrays", new BsonArray { "$" + BalanceDocument.PendingField, new BsonArray { entry } }) },
        });
    }

    /// <summary>
    /// Claims an idempotency key for a ledger entry: matches only if no pending entry on the account has the key.
    /// The claim moves no money; the key is then checked against the ledger collection while the claim stands.
    /// </summary>
    public static FilterDefinition<BalanceDocument> CanClaim(string accountId, string idempotencyKey)
        => BalanceFilter.And(
            Balance(accountId),
            BalanceFilter.Ne(PendingPath(PendingLedgerEntryDocument.KeyField), idempotencyKey));

    public static UpdateDefinition<BalanceDocument> Claim(PendingLedgerEntryDocument claim)
        => Builders<BalanceDocument>.Update.Push(d => d.Pending, claim);

    /// <summary>
    /// Applies a claimed entry: matches only while the caller's claim is still claimed (so it applies once), while the
    /// balance after stays within ±<see cref="CreditBalance.MaxBalance"/> and, for a debit that must be covered, while
    /// the available balance covers it. The bounds are computed here (max − amount, −max − amount), so the database
    /// never adds past 64 bits; <paramref name="amount"/> must be within ±2 × <see cref="CreditBalance.MaxBalance"/>.
    /// </summary>
    public static FilterDefinition<BalanceDocument> CanApply(string accountId, string entryId, long amount, bool requireAvailableBalance)
    {
        var max = CreditBalance.MaxBalance.Nanos;
        var conditions = new BsonArray
        {
            new BsonDocument("$lte", new BsonArray { Bal, max - amount }),
            new BsonDocument("$gte", new BsonArray { Bal, -max - amount }),
        };
        if (requireAvailableBalance && amount < 0)
        {
            conditions.Add(new BsonDocument("$gte", new BsonArray { new BsonDocument("$subtract", new BsonArray { Bal, Res }), -amount }));
        }

        return BalanceFilter.And(
            Balance(accountId),
            BalanceFilter.ElemMatch(d => d.Pending, PendingIs(entryId, PendingLedgerEntryDocument.Claimed)),
            new BsonDocument("$expr", new BsonDocument("$and", conditions)));
    }

    /// <summary>
    /// Adds the amount to <c>bal</c>, takes the next sequence number and marks the claim applied with that sequence
    /// and the balance after it, all in one pipeline update (the expressions read the document as it was before it).
    /// </summary>
    public static UpdateDefinition<BalanceDocument> Apply(string entryId, long amount)
    {
        var applied = new BsonDocument
        {
            { PendingLedgerEntryDocument.StateField, PendingLedgerEntryDocument.Applied },
            { PendingLedgerEntryDocument.SequenceField, NextSequence() },
            { PendingLedgerEntryDocument.BalanceAfterField, new BsonDocument("$add", new BsonArray { Bal, amount }) },
        };
        return Pipeline(new BsonDocument
        {
            { BalanceDocument.BalanceField, new BsonDocument("$add", new BsonArray { Bal, amount }) },
            { BalanceDocument.SequenceField, NextSequence() },
            {
                BalanceDocument.PendingField, new BsonDocument("$map", new BsonDocument
                {
                    { "input", "$" + BalanceDocument.PendingField },
                    {
                        "in", new BsonDocument("$cond", new BsonArray
                        {
                            new BsonDocument("$eq", new BsonArray { "$$this." + PendingLedgerEntryDocument.IdField, Literal(entryId) }),
                            new BsonDocument("$mergeObjects", new BsonArray { "$$this", applied }),
                            "$$this",
                        })
                    },
                })
            },
        });
    }

    /// <summary>Removes a pending entry in the given state: a claim given up, or an applied entry now in the ledger collection.</summary>
    public static UpdateDefinition<BalanceDocument> RemovePending(string entryId, string state)
        => Builders<BalanceDocument>.Update.PullFilter(d => d.Pending, PendingIs(entryId, state));

    public static FilterDefinition<BalanceDocument> NeedsRepair(long abandonedBeforeTicks, long dueTicks)
        => BalanceFilter.Or(
            BalanceFilter.Lte(PendingPath(PendingLedgerEntryDocument.ClaimedAtField), abandonedBeforeTicks),
            BalanceFilter.Lte(HoldsPath(HoldDocument.ExpiresAtField) + ".t", dueTicks));

    // ---- reservations ----

    public static FilterDefinition<ReservationDocument> Reservation(string reservationId) => ReservationFilter.Eq(d => d.Id, reservationId);

    public static FilterDefinition<ReservationDocument> ReservationByKey(string accountId, string idempotencyKey)
        => ReservationFilter.And(ReservationFilter.Eq(d => d.AccountId, accountId), ReservationFilter.Eq(d => d.IdempotencyKey, idempotencyKey));

    /// <summary>Matches the reservation only in <paramref name="state"/>: the condition that makes one caller win each transition.</summary>
    public static FilterDefinition<ReservationDocument> ReservationIn(string reservationId, string state)
        => ReservationFilter.And(Reservation(reservationId), ReservationFilter.Eq(d => d.State, state));

    /// <summary>Matches one generation of the reservation in <paramref name="state"/>.</summary>
    public static FilterDefinition<ReservationDocument> ReservationIn(string reservationId, int generation, string state)
        => ReservationFilter.And(ReservationIn(reservationId, state), ReservationFilter.Eq(d => d.Generation, generation));

    public static UpdateDefinition<ReservationDocument> SettleFromActive(long actualAmount, DateTimeOffset now)
        => Builders<ReservationDocument>.Update
            .Set(d => d.State, ReservationStates.Settled)
            .Set(d => d.SettledAmount, actualAmount)
            .Set(d => d.SettledAt, TimestampDocument.From(now))
            .Set(d => d.SettledFromActive, true);

    /// <summary>Settles an expired reservation; a non-zero charge is flagged pending until it is in the ledger.</summary>
    public static UpdateDefinition<ReservationDocument> SettleFromExpired(long actualAmount, DateTimeOffset now, long storeTicks)
    {
        var update = Builders<ReservationDocument>.Update
            .Set(d => d.State, ReservationStates.Settled)
            .Set(d => d.SettledAmount, actualAmount)
            .Set(d => d.SettledAt, TimestampDocument.From(now))
            .Set(d => d.SettledFromActive, false);
        return actualAmount == 0 ? update : update.Set(d => d.PendingCharge, true).Set(d => d.PendingChargeAt, storeTicks);
    }

    public static UpdateDefinition<ReservationDocument> ChargeWritten()
        => Builders<ReservationDocument>.Update.Unset(d => d.PendingCharge).Unset(d => d.PendingChargeAt);

    public static UpdateDefinition<ReservationDocument> SetState(string state) => Builders<ReservationDocument>.Update.Set(d => d.State, state);

    /// <summary>
    /// Active reservations due to expire: past their expiry (the (st, ea.t) index), or created at or before
    /// <paramref name="createdBefore"/> whatever their expiry (the (st, ca.t) index). Each branch of the <c>$or</c>
    /// names the state, so that each is served by its own index.
    /// </summary>
    public static FilterDefinition<ReservationDocument> Due(DateTimeOffset now, DateTimeOffset createdBefore)
        => ReservationFilter.Or(
            ReservationFilter.And(
                ReservationFilter.Eq(d => d.State, ReservationStates.Active),
                ReservationFilter.Lte(d => d.ExpiresAt.UtcTicks, now.UtcTicks)),
            ReservationFilter.And(
                ReservationFilter.Eq(d => d.State, ReservationStates.Active),
                ReservationFilter.Lte(d => d.CreatedAt.UtcTicks, createdBefore.UtcTicks)));

    public static SortDefinition<ReservationDocument> DueOrder { get; } = Builders<ReservationDocument>.Sort.Ascending(d => d.ExpiresAt.UtcTicks);

    /// <summary>Settled expired reservations whose charge was cut off before reaching the ledger.</summary>
    public static FilterDefinition<ReservationDocument> ChargePending(long abandonedBeforeTicks)
        => ReservationFilter.And(
            ReservationFilter.Eq(d => d.PendingCharge, true),
            ReservationFilter.Lte(d => d.PendingChargeAt, abandonedBeforeTicks));

    // ---- ledger ----

    public static FilterDefinition<LedgerEntryDocument> LedgerEntry(string entryId) => Builders<LedgerEntryDocument>.Filter.Eq(d => d.Id, entryId);

    public static FilterDefinition<LedgerEntryDocument> LedgerByKey(string accountId, string idempotencyKey)
        => Builders<LedgerEntryDocument>.Filter.And(
            Builders<LedgerEntryDocument>.Filter.Eq(d => d.AccountId, accountId),
            Builders<LedgerEntryDocument>.Filter.Eq(d => d.IdempotencyKey, idempotencyKey));

    /// <summary>The account's entries older than <paramref name="beforeSequence"/> (all when <see langword="null"/>).</summary>
    public static FilterDefinition<LedgerEntryDocument> LedgerPage(string accountId, long? beforeSequence)
    {
        var filter = Builders<LedgerEntryDocument>.Filter.Eq(d => d.AccountId, accountId);
        return beforeSequence is { } before ? filter & Builders<LedgerEntryDocument>.Filter.Lt(d => d.Sequence, before) : filter;
    }

    public static SortDefinition<LedgerEntryDocument> NewestFirst { get; } = Builders<LedgerEntryDocument>.Sort.Descending(d => d.Sequence);

    public static FindOneAndUpdateOptions<BalanceDocument> ReturnAfter { get; } = new() { ReturnDocument = ReturnDocument.After };

    public static FindOneAndUpdateOptions<ReservationDocument> ReservationAfter { get; } = new() { ReturnDocument = ReturnDocument.After };

    private static FilterDefinition<BalanceDocument> AvailableAtLeast(long amount)
        => new BsonDocument("$expr", new BsonDocument("$gte", new BsonArray
        {
            new BsonDocument("$subtract", new BsonArray { Bal, Res }),
            amount,
        }));

    private static FilterDefinition<HoldDocument> HoldIs(string reservationId, int generation)
        => Builders<HoldDocument>.Filter.And(
            Builders<HoldDocument>.Filter.Eq(h => h.ReservationId, reservationId),
            Builders<HoldDocument>.Filter.Eq(h => h.Generation, generation));

    private static FilterDefinition<PendingLedgerEntryDocument> PendingIs(string entryId, string state)
        => Builders<PendingLedgerEntryDocument>.Filter.And(
            Builders<PendingLedgerEntryDocument>.Filter.Eq(p => p.Id, entryId),
            Builders<PendingLedgerEntryDocument>.Filter.Eq(p => p.State, state));

    private static string HoldsPath(string field) => BalanceDocument.HoldsField + "." + field;

    private static string PendingPath(string field) => BalanceDocument.PendingField + "." + field;

    private static BsonDocument NextSequence() => new("$add", new BsonArray { Seq, 1L });

    private static BsonDocument Literal(string value) => new("$literal", value);

    private static PipelineUpdateDefinition<BalanceDocument> Pipeline(BsonDocument set)
        => new(new BsonDocument[] { new("$set", set) });
}
