using MongoDB.Bson;
using MongoDB.Bson.Serialization;

namespace UsageBilling.Mongo.Tests;

/// <summary>Records survive the trip through their BSON documents exactly: every field, money to the nano-unit, times to the tick and offset.</summary>
public sealed class DocumentMappingTests
{
    private static readonly DateTimeOffset Odd = new DateTimeOffset(2026, 11, 1, 12, 0, 0, TimeSpan.FromHours(5.5)).AddTicks(1_234_567);

    [Fact]
    public void A_timestamp_keeps_ticks_and_offset()
    {
        var back = RoundTrip(TimestampDocument.From(Odd)).ToDateTimeOffset();
        Assert.Equal(Odd, back);
        Assert.Equal(Odd.Offset, back.Offset);
        Assert.Equal(Odd.Ticks, back.Ticks);
    }

    [Fact]
    public void An_api_key_round_trips_with_limits_and_optional_times()
    {
        var key = new ApiKeyRecord
        {
            Id = "key_1",
            AccountId = "acct_1",
            Name = "ci",
            DisplayPrefix = "sk-test-ab",
            Hash = new string('a', 64),
            CreatedAt = Odd,
            ExpiresAt = Odd.AddDays(30),
            RevokedAt = Odd.AddDays(1),
            LastUsedAt = Odd.AddHours(1),
            Limits = new RequestLimits { RequestsPerSecond = 1, RequestsPerMinute = 60, RequestsPerHour = 600, RequestsPerDay = 6000, MonthlyRequests = 10_000, TokensPerMinute = 90_000 },
            Budget = new SpendBudget { Daily = new Money(1), Weekly = new Money(long.MaxValue), Monthly = Money.FromUnits(30m) },
        };
        Assert.Equal(key, RoundTrip(ApiKeyDocument.From(key)).ToRecord());

        Assert.Equal(BsonType.Int64, ApiKeyDocument.From(key).ToBsonDocument()["budget"]["d"].BsonType);

        var bare = key with { ExpiresAt = null, RevokedAt = null, LastUsedAt = null, Limits = null, Budget = null };
        var document = ApiKeyDocument.From(bare).ToBsonDocument();
        Assert.Equal(["_id", "acct", "name", "pfx", "hash", "ca"], document.Names);
        Assert.Equal(bare, RoundTrip(ApiKeyDocument.From(bare)).ToRecord());
    }

    [Fact]
    public void An_account_round_trips()
    {
        var account = new BillingAccount { Id = "acct_1", Name = "Acme", Plan = "pro", CreatedAt = Odd };
        Assert.Equal(account, RoundTrip(AccountDocument.From(account)).ToAccount());
        var budgeted = account with { Budget = new SpendBudget { Monthly = Money.FromUnits(0.000000001m) } };
        Assert.Equal(budgeted, RoundTrip(AccountDocument.From(budgeted)).ToAccount());
    }

    [Fact]
    public void A_model_price_round_trips_and_is_keyed_by_model_ignoring_case_and_by_instant()
    {
        var price = new ModelPrice
        {
            Model = "GPT-4o",
            InputPerMillion = Money.FromUnits(2.5m),
            OutputPerMillion = Money.FromUnits(10m),
            CachedInputPerMillion = Money.FromUnits(1.25m),
            RequestFee = new Money(1),
            EffectiveFrom = Odd,
        };
        Assert.Equal(price, RoundTrip(ModelPriceDocument.From(price)).ToPrice());
        Assert.Equal(price with { EffectiveFrom = null }, RoundTrip(ModelPriceDocument.From(price with { EffectiveFrom = null })).ToPrice());

        Assert.Equal(ModelPriceDocument.IdOf("gpt-4o", Odd.ToUniversalTime()), ModelPriceDocument.From(price).Id);
        Assert.NotEqual(ModelPriceDocument.IdOf("gpt-4o", null), ModelPriceDocument.From(price).Id);
        Assert.NotEqual(ModelPriceDocument.IdOf("gpt-4o", Odd.AddTicks(1)), ModelPriceDocument.From(price).Id);
    }

    [Fact]
    public void A_provider_key_round_trips_with_times_to_the_tick_and_offset()
    {
        var key = new ProviderKey
        {
            Id = "pk_1",
            AccountId = "acct_1",
            Provider = "openai",
            ProtectedKey = "CfDJ8-payload",
            Masked = "sk-…abcd",
            Enabled = false,
            CreatedAt = Odd,
            UpdatedAt = Odd.AddTicks(1),
        };
        Assert.Equal(key, RoundTrip(ProviderKeyDocument.From(key)).ToKey());
        Assert.Equal(["_id", "acct", "prov", "pkey", "mask", "en", "ca", "ua"], ProviderKeyDocument.From(key).ToBsonDocument().Names);
    }

    [Fact]
    public void A_usage_record_round_trips_and_stores_money_as_int64_nanos()
    {
        var record = new UsageRecord
        {
            RequestId = "req_1",
            Timestamp = Odd,
            KeyId = "key_1",
            AccountId = "acct_1",
            Method = "POST",
            Route = "/v1/chat/completions",
            StatusCode = 200,
            DurationMs = 12.345,
            Cost = new Money(long.MaxValue),
            Outcome = UsageOutcomes.Charged,
            IdempotencyKey = "idem",
            Model = "gpt-4o",
            InputTokens = 1200,
            OutputTokens = 300,
            CachedInputTokens = 1024,
            CostBreakdown = """{"lines":[{"dimension":"input","units":176,"nanos":440}]}""",
            TokensEstimated = true,
            Streamed = true,
            ClientAborted = true,
        };
        var document = UsageRecordDocument.From(record);
        var bson = document.ToBsonDocument();
        Assert.Equal(BsonType.Int64, bson["cost"].BsonType);
        Assert.Equal(long.MaxValue, bson["cost"].AsInt64);
        Assert.Equal(record.Timestamp.ToUnixTimeMilliseconds(), bson["ts"].AsInt64);
        Assert.Equal(record, RoundTrip(document).ToRecord());
    }

    [Fact]
    public void A_ledger_entry_and_a_reservation_round_trip_with_signed_nano_amounts()
    {
        var entry = new LedgerEntryDocument
        {
            Id = "led_1",
            AccountId = "acct_1",
            Sequence = 3,
            Kind = LedgerEntryKinds.Adjustment,
            Amount = -1,
            BalanceAfter = -9_223_372_036_000_000_000,
            IdempotencyKey = "ext:fix",
            Reason = "correction",
            CreatedAt = TimestampDocument.From(Odd),
        };
        var read = RoundTrip(entry).ToEntry();
        Assert.Equal(LedgerEntryKind.Adjustment, read.Kind);
        Assert.Equal(new Money(-1), read.Amount);
        Assert.Equal(new Money(-9_223_372_036_000_000_000), read.BalanceAfter);
        Assert.Equal(Odd, read.CreatedAt);

        var reservation = new ReservationDocument
        {
            Id = "res_1",
            AccountId = "acct_1",
            IdempotencyKey = "k",
            Generation = 2,
            State = ReservationStates.Settled,
            Amount = 4_000_000_000,
            Reference = "GET /x",
            CreatedAt = TimestampDocument.From(Odd),
            ExpiresAt = TimestampDocument.From(Odd.AddMinutes(10)),
            SettledAmount = 5_000_000_001,
        };
        Assert.Equal(new CreditReservation
        {
            Id = "res_1",
            AccountId = "acct_1",
            Amount = new Money(4_000_000_000),
            IdempotencyKey = "k",
            Reference = "GET /x",
            State = ReservationState.Settled,
            CreatedAt = Odd,
            ExpiresAt = Odd.AddMinutes(10),
            SettledAmount = new Money(5_000_000_001),
        }, RoundTrip(reservation).ToReservation());
    }

    [Fact]
    public void A_hold_rebuilds_its_reservation_exactly()
    {
        var hold = new HoldDocument
        {
            ReservationId = "res_1",
            Generation = 3,
            IdempotencyKey = "k",
            Amount = 7,
            Reference = null,
            CreatedAt = TimestampDocument.From(Odd),
            ExpiresAt = TimestampDocument.From(Odd.AddMinutes(1)),
        };
        var rebuilt = RoundTrip(hold).ToActiveReservation("acct_1");
        Assert.Equal(3, rebuilt.Generation);
        Assert.Equal(ReservationStates.Active, rebuilt.State);
        Assert.Equal(hold.ToReservation("acct_1"), rebuilt.ToReservation());
    }

    [Fact]
    public void Every_stored_state_and_kind_reads_back_as_itself()
    {
        foreach (var kind in Enum.GetValues<LedgerEntryKind>())
        {
            Assert.Equal(kind, LedgerEntryKinds.Parse(LedgerEntryKinds.Format(kind)));
        }

        Assert.Equal(
            [ReservationState.Active, ReservationState.Settled, ReservationState.Released, ReservationState.Expired],
            new[] { ReservationStates.Active, ReservationStates.Settled, ReservationStates.Released, ReservationStates.Expired }.Select(ReservationStates.Parse));
    }

    private static T RoundTrip<T>(T document) => BsonSerializer.Deserialize<T>(document.ToBsonDocument());
}
