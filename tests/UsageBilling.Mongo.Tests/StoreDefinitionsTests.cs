using static UsageBilling.Mongo.Tests.Rendered;

namespace UsageBilling.Mongo.Tests;

/// <summary>The filters and updates of the counter, usage and API key stores, rendered as the driver sends them.</summary>
public sealed class StoreDefinitionsTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 1, 12, 0, 0, TimeSpan.Zero);

    [Fact]
    public void A_counter_increment_is_one_atomic_upsert_returning_the_new_value()
    {
        AssertBson("""{ "_id": "key_1:m:29000000" }""", Of(CounterDefinitions.ByKey("key_1:m:29000000")));
        AssertBson("""
            {
              "$inc": { "v": NumberLong(-1) },
              "$setOnInsert": { "exp": ISODate("2100-01-01T00:00:00Z") }
            }
            """, Of(CounterDefinitions.Increment(-1, new DateTimeOffset(2100, 1, 1, 0, 0, 0, TimeSpan.Zero))));
        Assert.True(CounterDefinitions.IncrementOptions.IsUpsert);
        Assert.Equal(MongoDB.Driver.ReturnDocument.After, CounterDefinitions.IncrementOptions.ReturnDocument);
    }

    [Fact]
    public void A_counter_expiry_is_stored_as_a_utc_date_whatever_the_offset()
    {
        AssertBson("""{ "$inc": { "v": NumberLong(1) }, "$setOnInsert": { "exp": ISODate("2026-11-01T10:00:00Z") } }""",
            Of(CounterDefinitions.Increment(1, new DateTimeOffset(2026, 11, 1, 12, 0, 0, TimeSpan.FromHours(2)))));
    }

    [Fact]
    public void Usage_batches_are_inserted_unordered_so_duplicates_do_not_stop_the_rest()
        => Assert.False(UsageDefinitions.InsertOptions.IsOrdered);

    [Fact]
    public void Usage_pages_sort_and_continue_exactly_like_the_usage_cursor()
    {
        var last = new UsageRecord
        {
            RequestId = "req_b",
            Timestamp = Now.AddTicks(5_678),
            Method = "GET",
            Route = "/",
            StatusCode = 200,
            DurationMs = 1,
            Cost = Money.Zero,
        };
        var cursor = UsageCursor.Encode(last);
        var ms = Now.ToUnixTimeMilliseconds();

        AssertBson("""{ "ts": -1, "_id": -1 }""", Of(UsageDefinitions.NewestFirst));
        AssertBson($$"""
            {
              "acct": "acct_1",
              "kid": "key_1",
              "ts": { "$gte": NumberLong({{ms - 60_000}}), "$lte": NumberLong({{ms + 60_000}}) },
              "at.t": { "$gte": NumberLong({{Now.AddMinutes(-1).UtcTicks}}), "$lt": NumberLong({{Now.AddMinutes(1).UtcTicks}}) },
              "$or": [
                { "ts": { "$lt": NumberLong({{ms}}) } },
                { "ts": NumberLong({{ms}}), "_id": { "$lt": "req_b" } }
              ]
            }
            """, Of(UsageDefinitions.Query(new UsageQuery
        {
            AccountId = "acct_1",
            KeyId = "key_1",
            From = Now.AddMinutes(-1),
            To = Now.AddMinutes(1),
            Cursor = cursor,
        })));
        AssertBson("{ }", Of(UsageDefinitions.Query(new UsageQuery())));
    }

    [Fact]
    public void A_bad_usage_cursor_is_refused()
        => Assert.Throws<FormatException>(() => UsageDefinitions.Query(new UsageQuery { Cursor = "not-a-cursor" }));

    [Fact]
    public void Revoking_keeps_the_first_revocation_time_in_one_update()
    {
        AssertBson($$"""
            [ { "$set": { "rev": { "$ifNull": [ "$rev", { "$literal": { "t": NumberLong({{Now.UtcTicks}}), "o": 60 } } ] } } } ]
            """, Of(ApiKeyDefinitions.Revoke(Now.ToOffset(TimeSpan.FromHours(1)))));
    }

    [Fact]
    public void Touching_matches_only_a_key_last_used_earlier_or_never()
    {
        AssertBson($$"""
            { "_id": "key_1", "$or": [ { "used": null }, { "used.t": { "$lt": NumberLong({{Now.UtcTicks}}) } } ] }
            """, Of(ApiKeyDefinitions.TouchableBefore("key_1", Now)));
        AssertBson($$"""{ "$set": { "used": { "t": NumberLong({{Now.UtcTicks}}), "o": 0 } } }""", Of(ApiKeyDefinitions.Touch(Now)));
    }

    [Fact]
    public void Keys_list_oldest_first_then_by_id()
    {
        AssertBson("""{ "ca.t": 1, "_id": 1 }""", Of(ApiKeyDefinitions.OldestFirst));
        AssertBson("""{ "acct": "acct_1" }""", Of(ApiKeyDefinitions.ByAccount("acct_1")));
        AssertBson("""{ "hash": "ab12" }""", Of(ApiKeyDefinitions.ByHash("ab12")));
    }
}
