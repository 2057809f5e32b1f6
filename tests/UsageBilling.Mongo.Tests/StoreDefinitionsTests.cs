using static UsageBilling.Mongo.Tests.Rendered;

namespace UsageBilling.Mongo.Tests;

/// <summary>The filters and updates of the counter, usage, API key, account and provider key stores, rendered as the driver sends them.</summary>
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
        var ms = Now.ToUnixTimeMilliseconds();
        var cursor = $"{ms}.{last.RequestId}"; // the cursor format of the IUsageStore contract

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
    public void Updating_a_key_sets_only_name_expiry_limits_and_budget_and_unsets_the_cleared_ones()
    {
        var key = new ApiKeyRecord
        {
            Id = "key_1",
            AccountId = "acct_other",
            Name = "renamed",
            DisplayPrefix = "sk",
            Hash = "ffff",
            CreatedAt = Now,
            ExpiresAt = Now.AddDays(7),
            RevokedAt = Now,
            Limits = new RequestLimits { TokensPerMinute = 1000 },
            Budget = new SpendBudget { Daily = new Money(1) },
        };
        AssertBson($$"""
            { "$set": {
              "name": "renamed",
              "exp": { "t": NumberLong({{Now.AddDays(7).UtcTicks}}), "o": 0 },
              "lim": { "tpm": NumberLong(1000) },
              "budget": { "d": NumberLong(1) }
            } }
            """, Of(ApiKeyDefinitions.Update(key)));
        AssertBson("""{ "$set": { "name": "renamed" }, "$unset": { "exp": 1, "lim": 1, "budget": 1 } }""",
            Of(ApiKeyDefinitions.Update(key with { ExpiresAt = null, Limits = null, Budget = null })));
    }

    [Fact]
    public void Every_key_pages_in_id_order()
    {
        AssertBson("""{ "_id": { "$gt": "key_5" } }""", Of(ApiKeyDefinitions.After("key_5")));
        AssertBson("{ }", Of(ApiKeyDefinitions.After(null)));
        AssertBson("""{ "_id": 1 }""", Of(ApiKeyDefinitions.IdOrder));
    }

    [Fact]
    public void Updating_an_account_sets_name_plan_and_budget_or_unsets_a_cleared_budget()
    {
        var account = new BillingAccount
        {
            Id = "acct_1",
            Name = "Acme GmbH",
            Plan = "enterprise",
            CreatedAt = Now,
            Budget = new SpendBudget { Daily = Money.FromUnits(1.5m), Monthly = Money.FromUnits(30m) },
        };
        AssertBson("""{ "_id": "acct_1" }""", Of(AccountDefinitions.ById("acct_1")));
        AssertBson("""
            { "$set": { "name": "Acme GmbH", "plan": "enterprise", "budget": { "d": NumberLong(1500000000), "m": NumberLong(30000000000) } } }
            """, Of(AccountDefinitions.Update(account)));
        AssertBson("""{ "$set": { "name": "Acme GmbH", "plan": "enterprise" }, "$unset": { "budget": 1 } }""",
            Of(AccountDefinitions.Update(account with { Budget = null })));
    }

    [Fact]
    public void Summaries_are_computed_in_the_database_with_a_nearest_rank_p95()
    {
        var from = Now;
        var to = Now.AddDays(1);
        var stages = UsageDefinitions.Summary(new UsageSummaryQuery
        {
            From = from,
            To = to,
            AccountId = "acct_1",
            GroupBy = UsageGrouping.Day,
            OrderBy = UsageOrder.CostDescending,
            Limit = 5,
        });
        AssertBson($$"""
            [
              { "$match": {
                "acct": "acct_1",
                "ts": { "$gte": NumberLong({{from.ToUnixTimeMilliseconds()}}), "$lte": NumberLong({{to.ToUnixTimeMilliseconds()}}) },
                "at.t": { "$gte": NumberLong({{from.UtcTicks}}), "$lt": NumberLong({{to.UtcTicks}}) }
              } },
              { "$set": { "g": { "$dateToString": { "format": "%Y-%m-%d", "date": { "$toDate": "$ts" } } } } },
              { "$setWindowFields": {
                "partitionBy": "$g",
                "sortBy": { "dur": 1 },
                "output": {
                  "rank": { "$documentNumber": { } },
                  "n": { "$count": { }, "window": { "documents": ["unbounded", "unbounded"] } }
                }
              } },
              { "$group": {
                "_id": "$g",
                "requests": { "$sum": 1 },
                "errors": { "$sum": { "$cond": [ { "$gte": ["$sc", 400] }, 1, 0 ] } },
                "input": { "$sum": "$in" },
                "cached": { "$sum": "$cached" },
                "output": { "$sum": "$outTok" },
                "cost": { "$sum": "$cost" },
                "avg": { "$avg": "$dur" },
                "p95": { "$max": { "$cond": [ { "$eq": ["$rank", { "$ceil": { "$multiply": [0.95, "$n"] } }] }, "$dur", null ] } }
              } },
              { "$sort": { "cost": -1, "_id": 1 } },
              { "$limit": 5 }
            ]
            """, new MongoDB.Bson.BsonArray(stages));
    }

    [Fact]
    public void Summary_groups_and_orders_follow_the_query()
    {
        var query = new UsageSummaryQuery { From = Now, To = Now.AddDays(1) };
        MongoDB.Bson.BsonValue Stage(UsageSummaryQuery q, string name) => UsageDefinitions.Summary(q).Single(s => s.GetElement(0).Name == name)[0];

        AssertBson("""{ "g": null }""", Stage(query, "$set"));
        AssertBson("""{ "g": { "$ifNull": ["$model", null] } }""", Stage(query with { GroupBy = UsageGrouping.Model }, "$set"));
        AssertBson("""{ "g": { "$ifNull": ["$kid", null] } }""", Stage(query with { GroupBy = UsageGrouping.Key }, "$set"));
        AssertBson("""{ "g": { "$ifNull": ["$acct", null] } }""", Stage(query with { GroupBy = UsageGrouping.Account }, "$set"));
        AssertBson("""{ "_id": 1 }""", Stage(query, "$sort"));
        AssertBson("""{ "requests": -1, "_id": 1 }""", Stage(query with { OrderBy = UsageOrder.RequestsDescending }, "$sort"));
        Assert.DoesNotContain(UsageDefinitions.Summary(query), s => s.Contains("$limit"));
        Assert.True(UsageDefinitions.SummaryOptions.AllowDiskUse);
    }

    [Fact]
    public void A_summary_row_reads_back_exactly()
    {
        var row = MongoDB.Bson.BsonDocument.Parse("""
            { "_id": "2100-01-02", "requests": 3, "errors": NumberLong(1), "input": NumberLong(1200), "cached": 0,
              "output": NumberLong(30), "cost": NumberLong(9223372036854775807), "avg": 12.5, "p95": 20.25 }
            """);
        Assert.Equal(new UsageSummary
        {
            Group = "2100-01-02",
            Requests = 3,
            Errors = 1,
            InputTokens = 1200,
            CachedInputTokens = 0,
            OutputTokens = 30,
            Cost = new Money(long.MaxValue),
            AverageDurationMs = 12.5,
            P95DurationMs = 20.25,
        }, UsageDefinitions.ToSummary(row));
        Assert.Null(UsageDefinitions.ToSummary(row.Set("_id", MongoDB.Bson.BsonNull.Value)).Group);
    }

    [Fact]
    public void A_provider_key_upsert_matches_account_and_provider_and_sets_id_and_creation_only_on_insert()
    {
        var key = new ProviderKey
        {
            Id = "pk_1",
            AccountId = "acct_1",
            Provider = "openai",
            ProtectedKey = "CfDJ8-payload",
            Masked = "sk-…abcd",
            Enabled = true,
            CreatedAt = Now.ToOffset(TimeSpan.FromHours(2)),
            UpdatedAt = Now.AddMinutes(5),
        };
        AssertBson("""{ "acct": "acct_1", "prov": "openai" }""", Of(ProviderKeyDefinitions.ByAccountAndProvider("acct_1", "openai")));
        AssertBson($$"""
            {
              "$set": {
                "pkey": "CfDJ8-payload",
                "mask": "sk-…abcd",
                "en": true,
                "ua": { "t": NumberLong({{Now.AddMinutes(5).UtcTicks}}), "o": 0 }
              },
              "$setOnInsert": {
                "_id": "pk_1",
                "ca": { "t": NumberLong({{Now.UtcTicks}}), "o": 120 }
              }
            }
            """, Of(ProviderKeyDefinitions.Upsert(key)));
        Assert.True(ProviderKeyDefinitions.UpsertOptions.IsUpsert);
        Assert.Equal(MongoDB.Driver.ReturnDocument.After, ProviderKeyDefinitions.UpsertOptions.ReturnDocument);
    }

    [Fact]
    public void Provider_keys_list_by_account_in_provider_order_and_are_enabled_with_a_set()
    {
        AssertBson("""{ "acct": "acct_1" }""", Of(ProviderKeyDefinitions.ByAccount("acct_1")));
        AssertBson("""{ "prov": 1 }""", Of(ProviderKeyDefinitions.ByProvider));
        AssertBson($$"""
            { "$set": { "en": false, "ua": { "t": NumberLong({{Now.UtcTicks}}), "o": 60 } } }
            """, Of(ProviderKeyDefinitions.SetEnabled(false, Now.ToOffset(TimeSpan.FromHours(1)))));
    }

    [Fact]
    public void Keys_list_oldest_first_then_by_id()
    {
        AssertBson("""{ "ca.t": 1, "_id": 1 }""", Of(ApiKeyDefinitions.OldestFirst));
        AssertBson("""{ "acct": "acct_1" }""", Of(ApiKeyDefinitions.ByAccount("acct_1")));
        AssertBson("""{ "hash": "ab12" }""", Of(ApiKeyDefinitions.ByHash("ab12")));
    }
}
