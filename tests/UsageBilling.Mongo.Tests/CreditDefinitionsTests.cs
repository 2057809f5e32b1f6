using static UsageBilling.Mongo.Tests.Rendered;

namespace UsageBilling.Mongo.Tests;

/// <summary>
/// Each money operation of the credit store is one conditional single-document update. These tests render the
/// filters and updates the store sends and pin them: losing a balance condition, an idempotency guard, a hold
/// guard or the Int64 type of an amount fails here, without a server.
/// </summary>
public sealed class CreditDefinitionsTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 1, 12, 0, 0, TimeSpan.Zero);
    private static readonly long NowTicks = Now.UtcTicks;

    [Fact]
    public void Reserving_matches_only_if_the_available_balance_covers_the_amount_and_the_key_holds_nothing()
    {
        AssertBson($$"""
            {
              "_id": "acct_1",
              "holds.k": { "$ne": "key-1" },
              "$expr": { "$gte": [ { "$subtract": ["$bal", "$res"] }, NumberLong(4000000000) ] }
            }
            """, Of(CreditDefinitions.CanHold("acct_1", "key-1", 4_000_000_000)));
    }

    [Fact]
    public void A_zero_reservation_still_requires_a_non_negative_available_balance()
    {
        AssertBson("""
            {
              "_id": "acct_1",
              "holds.k": { "$ne": "k" },
              "$expr": { "$gte": [ { "$subtract": ["$bal", "$res"] }, NumberLong(0) ] }
            }
            """, Of(CreditDefinitions.CanHold("acct_1", "k", 0)));
    }

    [Fact]
    public void Reserving_adds_the_amount_to_res_and_pushes_the_whole_hold()
    {
        AssertBson($$"""
            {
              "$inc": { "res": NumberLong(4000000000) },
              "$push": { "holds": {
                "r": "res_1", "g": 1, "k": "key-1", "amt": NumberLong(4000000000), "ref": "GET /x",
                "ca": { "t": NumberLong({{NowTicks}}), "o": 0 },
                "ea": { "t": NumberLong({{Now.AddMinutes(10).UtcTicks}}), "o": 0 }
              } }
            }
            """, Of(CreditDefinitions.Hold(Hold())));
    }

    [Fact]
    public void Removing_a_hold_matches_only_while_that_generation_is_held()
    {
        AssertBson("""{ "_id": "acct_1", "holds": { "$elemMatch": { "r": "res_1", "g": 2 } } }""",
            Of(CreditDefinitions.HoldPresent("acct_1", "res_1", 2)));
        AssertBson("""
            {
              "$pull": { "holds": { "r": "res_1", "g": 2 } },
              "$inc": { "res": NumberLong(-4000000000) }
            }
            """, Of(CreditDefinitions.RemoveHold("res_1", 2, 4_000_000_000)));
    }

    [Fact]
    public void Settling_a_hold_charges_removes_the_hold_and_appends_the_applied_entry_in_one_update()
    {
        var charge = new PendingLedgerEntryDocument
        {
            Id = "led_1",
            IdempotencyKey = "settle:res_1",
            State = PendingLedgerEntryDocument.Applied,
            Kind = LedgerEntryKinds.Charge,
            Amount = -1_250_000_000,
            ReservationId = "res_1",
            Reference = "$bal",
            CreatedAt = TimestampDocument.From(Now),
            ClaimedAt = 42,
        };

        AssertBson($$"""
            [ { "$set": {
              "bal": { "$add": ["$bal", NumberLong(-1250000000)] },
              "res": { "$subtract": ["$res", NumberLong(4000000000)] },
              "seq": { "$add": ["$seq", NumberLong(1)] },
              "holds": { "$filter": {
                "input": "$holds",
                "cond": { "$not": [ { "$and": [
                  { "$eq": ["$$this.r", { "$literal": "res_1" }] },
                  { "$eq": ["$$this.g", 1] }
                ] } ] }
              } },
              "pend": { "$concatArrays": [ "$pend", [ { "$mergeObjects": [
                { "$literal": {
                  "id": "led_1", "k": "settle:res_1", "st": "a", "kind": "charge", "amt": NumberLong(-1250000000),
                  "seq": NumberLong(0), "after": NumberLong(0), "rid": "res_1", "ref": "$bal",
                  "ca": { "t": NumberLong({{NowTicks}}), "o": 0 }, "at": NumberLong(42)
                } },
                { "st": "a", "seq": { "$add": ["$seq", NumberLong(1)] }, "after": { "$add": ["$bal", NumberLong(-1250000000)] } }
              ] } ] ] }
            } } ]
            """, Of(CreditDefinitions.ChargeHold("res_1", 1, 4_000_000_000, charge)));
    }

    [Fact]
    public void Claiming_a_ledger_key_matches_only_if_no_pending_entry_has_it_and_moves_no_money()
    {
        AssertBson("""{ "_id": "acct_1", "pend.k": { "$ne": "ext:payment-42" } }""",
            Of(CreditDefinitions.CanClaim("acct_1", "ext:payment-42")));

        var claim = new PendingLedgerEntryDocument
        {
            Id = "led_1",
            IdempotencyKey = "ext:payment-42",
            Kind = LedgerEntryKinds.Grant,
            Amount = 7_000_000_000,
            Reason = "top-up",
            CreatedAt = TimestampDocument.From(Now),
            ClaimedAt = 99,
        };
        var update = Of(CreditDefinitions.Claim(claim)).AsBsonDocument;
        AssertBson($$"""
            { "$push": { "pend": {
              "id": "led_1", "k": "ext:payment-42", "st": "c", "kind": "grant", "amt": NumberLong(7000000000),
              "seq": NumberLong(0), "after": NumberLong(0), "why": "top-up",
              "ca": { "t": NumberLong({{NowTicks}}), "o": 0 }, "at": NumberLong(99)
            } } }
            """, update);
        Assert.DoesNotContain("$inc", update.Names);
    }

    [Fact]
    public void Applying_a_covered_debit_requires_the_claim_the_balance_limit_and_the_available_balance()
    {
        AssertBson("""
            {
              "_id": "acct_1",
              "pend": { "$elemMatch": { "id": "led_1", "st": "c" } },
              "$expr": { "$and": [
                { "$lte": ["$bal", NumberLong(1000000003500000000)] },
                { "$gte": ["$bal", NumberLong(-999999996500000000)] },
                { "$gte": [ { "$subtract": ["$bal", "$res"] }, NumberLong(3500000000) ] }
              ] }
            }
            """, Of(CreditDefinitions.CanApply("acct_1", "led_1", -3_500_000_000, requireAvailableBalance: true)));
    }

    [Fact]
    public void Applying_a_credit_or_an_uncovered_charge_requires_the_claim_and_the_balance_limit()
    {
        AssertBson("""
            {
              "_id": "acct_1",
              "pend": { "$elemMatch": { "id": "led_1", "st": "c" } },
              "$expr": { "$and": [
                { "$lte": ["$bal", NumberLong(999999990000000000)] },
                { "$gte": ["$bal", NumberLong(-1000000010000000000)] }
              ] }
            }
            """, Of(CreditDefinitions.CanApply("acct_1", "led_1", 10_000_000_000, requireAvailableBalance: true)));
        AssertBson("""
            {
              "_id": "acct_1",
              "pend": { "$elemMatch": { "id": "led_1", "st": "c" } },
              "$expr": { "$and": [
                { "$lte": ["$bal", NumberLong(1000000003000000000)] },
                { "$gte": ["$bal", NumberLong(-999999997000000000)] }
              ] }
            }
            """, Of(CreditDefinitions.CanApply("acct_1", "led_1", -3_000_000_000, requireAvailableBalance: false)));
    }

    [Fact]
    public void Applying_adds_to_the_balance_takes_the_next_sequence_and_marks_only_that_claim_applied()
    {
        AssertBson("""
            [ { "$set": {
              "bal": { "$add": ["$bal", NumberLong(-3500000000)] },
              "seq": { "$add": ["$seq", NumberLong(1)] },
              "pend": { "$map": {
                "input": "$pend",
                "in": { "$cond": [
                  { "$eq": ["$$this.id", { "$literal": "$led" }] },
                  { "$mergeObjects": ["$$this", {
                    "st": "a",
                    "seq": { "$add": ["$seq", NumberLong(1)] },
                    "after": { "$add": ["$bal", NumberLong(-3500000000)] }
                  }] },
                  "$$this"
                ] }
              } }
            } } ]
            """, Of(CreditDefinitions.Apply("$led", -3_500_000_000)));
    }

    [Fact]
    public void Pending_entries_are_removed_only_in_the_expected_state()
    {
        AssertBson("""{ "$pull": { "pend": { "id": "led_1", "st": "c" } } }""",
            Of(CreditDefinitions.RemovePending("led_1", PendingLedgerEntryDocument.Claimed)));
        AssertBson("""{ "$pull": { "pend": { "id": "led_1", "st": "a" } } }""",
            Of(CreditDefinitions.RemovePending("led_1", PendingLedgerEntryDocument.Applied)));
    }

    [Fact]
    public void Reservation_transitions_match_only_the_state_they_leave()
    {
        AssertBson("""{ "_id": "res_1", "st": "active" }""", Of(CreditDefinitions.ReservationIn("res_1", ReservationStates.Active)));
        AssertBson("""{ "_id": "res_1", "st": "expired", "g": 3 }""", Of(CreditDefinitions.ReservationIn("res_1", 3, ReservationStates.Expired)));
        AssertBson("""{ "$set": { "st": "released" } }""", Of(CreditDefinitions.SetState(ReservationStates.Released)));
    }

    [Fact]
    public void Settling_from_active_records_the_amount_time_and_origin()
    {
        AssertBson($$"""
            { "$set": {
              "st": "settled", "sam": NumberLong(1250000000),
              "sat": { "t": NumberLong({{NowTicks}}), "o": 0 }, "sa": true
            } }
            """, Of(CreditDefinitions.SettleFromActive(1_250_000_000, Now)));
    }

    [Fact]
    public void Settling_from_expired_flags_a_non_zero_charge_as_pending()
    {
        AssertBson($$"""
            { "$set": {
              "st": "settled", "sam": NumberLong(2000000000),
              "sat": { "t": NumberLong({{NowTicks}}), "o": 0 }, "sa": false,
              "pc": true, "pca": NumberLong(77)
            } }
            """, Of(CreditDefinitions.SettleFromExpired(2_000_000_000, Now, 77)));
        AssertBson($$"""
            { "$set": {
              "st": "settled", "sam": NumberLong(0),
              "sat": { "t": NumberLong({{NowTicks}}), "o": 0 }, "sa": false
            } }
            """, Of(CreditDefinitions.SettleFromExpired(0, Now, 77)));
    }

    [Fact]
    public void The_sweeper_and_repair_find_their_work_by_indexed_fields()
    {
        AssertBson($$"""
            { "$or": [
              { "st": "active", "ea.t": { "$lte": NumberLong({{NowTicks}}) } },
              { "st": "active", "ca.t": { "$lte": NumberLong({{Now.AddMinutes(-5).UtcTicks}}) } }
            ] }
            """, Of(CreditDefinitions.Due(Now, Now.AddMinutes(-5))));
        AssertBson("""{ "ea.t": 1 }""", Of(CreditDefinitions.DueOrder));
        AssertBson("""{ "pc": true, "pca": { "$lte": NumberLong(5) } }""", Of(CreditDefinitions.ChargePending(5)));
        AssertBson("""
            { "$or": [
              { "pend.at": { "$lte": NumberLong(5) } },
              { "holds.ea.t": { "$lte": NumberLong(6) } }
            ] }
            """, Of(CreditDefinitions.NeedsRepair(5, 6)));
    }

    [Fact]
    public void The_ledger_is_read_per_account_by_key_and_newest_first_by_sequence()
    {
        AssertBson("""{ "acct": "acct_1", "key": "g1" }""", Of(CreditDefinitions.LedgerByKey("acct_1", "g1")));
        AssertBson("""{ "acct": "acct_1" }""", Of(CreditDefinitions.LedgerPage("acct_1", null)));
        AssertBson("""{ "acct": "acct_1", "seq": { "$lt": NumberLong(7) } }""", Of(CreditDefinitions.LedgerPage("acct_1", 7)));
        AssertBson("""{ "seq": -1 }""", Of(CreditDefinitions.NewestFirst));
    }

    [Fact]
    public void Balance_updates_return_the_document_after_the_update()
    {
        Assert.Equal(MongoDB.Driver.ReturnDocument.After, CreditDefinitions.ReturnAfter.ReturnDocument);
        Assert.False(CreditDefinitions.ReturnAfter.IsUpsert);
        Assert.Equal(MongoDB.Driver.ReturnDocument.After, CreditDefinitions.ReservationAfter.ReturnDocument);
        Assert.False(CreditDefinitions.ReservationAfter.IsUpsert);
    }

    private static HoldDocument Hold() => new()
    {
        ReservationId = "res_1",
        Generation = 1,
        IdempotencyKey = "key-1",
        Amount = 4_000_000_000,
        Reference = "GET /x",
        CreatedAt = TimestampDocument.From(Now),
        ExpiresAt = TimestampDocument.From(Now.AddMinutes(10)),
    };
}
