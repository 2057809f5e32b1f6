using MongoDB.Bson;
using MongoDB.Bson.Serialization;
using MongoDB.Driver;

namespace UsageBilling.Mongo;

/// <summary>The query, sort and insert options of <see cref="MongoUsageStore"/>, built here so tests can render them.</summary>
internal static class UsageDefinitions
{
    private static FilterDefinitionBuilder<UsageRecordDocument> Filter => Builders<UsageRecordDocument>.Filter;

    /// <summary>Unordered: one duplicate request id does not stop the rest of the batch.</summary>
    public static InsertManyOptions InsertOptions { get; } = new() { IsOrdered = false };

    /// <summary>Newest first, ties broken by request id: the order <see cref="UsageCursor"/> pages in.</summary>
    public static SortDefinition<UsageRecordDocument> NewestFirst { get; } =
        Builders<UsageRecordDocument>.Sort.Descending(d => d.UnixMilliseconds).Descending(d => d.RequestId);

    /// <summary>
    /// The query's filter: account, key and period (see <see cref="Period"/>); after a cursor, older milliseconds,
    /// or the same millisecond with a smaller request id, exactly as <see cref="UsageCursor.IsAfter"/>.
    /// </summary>
    public static FilterDefinition<UsageRecordDocument> Query(UsageQuery query)
    {
        ArgumentNullException.ThrowIfNull(query);
        var filters = Period(query.AccountId, query.KeyId, query.From, query.To);
        if (UsageCursor.Decode(query.Cursor) is { } after)
        {
            var ms = after.Timestamp.ToUnixTimeMilliseconds();
            filters.Add(Filter.Or(
                Filter.Lt(d => d.UnixMilliseconds, ms),
                Filter.And(Filter.Eq(d => d.UnixMilliseconds, ms), Filter.Lt(d => d.RequestId, after.RequestId))));
        }

        return filters.Count == 0 ? Filter.Empty : Filter.And(filters);
    }

    /// <summary>
    /// The aggregation behind <see cref="IUsageStore.SummarizeAsync"/>, all in the database: match the period,
    /// compute the group (<c>g</c>), number each record within its group by ascending duration and count the group
    /// (<c>$setWindowFields</c>, MongoDB 5.0+), then total per group, taking as p95 the duration whose number is
    /// ⌈0.95 n⌉ (nearest rank, as the reference semantics in src/Shared/UsageAggregation.cs), and order and limit the rows.
    /// </summary>
    public static IReadOnlyList<BsonDocument> Summary(UsageSummaryQuery query)
    {
        ArgumentNullException.ThrowIfNull(query);
        var match = Filter.And(Period(query.AccountId, query.KeyId, query.From, query.To))
            .Render(new RenderArgs<UsageRecordDocument>(BsonSerializer.LookupSerializer<UsageRecordDocument>(), BsonSerializer.SerializerRegistry));
        BsonValue group = query.GroupBy switch
        {
            UsageGrouping.None => BsonNull.Value,
            UsageGrouping.Day => new BsonDocument("$dateToString", new BsonDocument
            {
                { "format", "%Y-%m-%d" },
                { "date", new BsonDocument("$toDate", "$ts") },
            }),
            UsageGrouping.Model => new BsonDocument("$ifNull", new BsonArray { "$model", BsonNull.Value }),
            UsageGrouping.Key => new BsonDocument("$ifNull", new BsonArray { "$kid", BsonNull.Value }),
            UsageGrouping.Account => new BsonDocument("$ifNull", new BsonArray { "$acct", BsonNull.Value }),
            _ => throw new ArgumentOutOfRangeException(nameof(query), query.GroupBy, "Unknown grouping."),
        };
        var sort = query.OrderBy switch
        {
            UsageOrder.CostDescending => new BsonDocument { { "cost", -1 }, { "_id", 1 } },
            UsageOrder.RequestsDescending => new BsonDocument { { "requests", -1 }, { "_id", 1 } },
            _ => new BsonDocument("_id", 1),
        };
        var stages = new List<BsonDocument>
        {
            new("$match", match),
            new("$set", new BsonDocument("g", group)),
            new("$setWindowFields", new BsonDocument
            {
                { "partitionBy", "$g" },
                { "sortBy", new BsonDocument("dur", 1) },
                {
                    "output", new BsonDocument
                    {
                        { "rank", new BsonDocument("$documentNumber", new BsonDocument()) },
                        { "n", new BsonDocument { { "$count", new BsonDocument() }, { "window", new BsonDocument("documents", new BsonArray { "unbounded", "unbounded" }) } } },
                    }
                },
            }),
            new("$group", new BsonDocument
            {
                { "_id", "$g" },
                { "requests", new BsonDocument("$sum", 1) },
                { "errors", new BsonDocument("$sum", new BsonDocument("$cond", new BsonArray { new BsonDocument("$gte", new BsonArray { "$sc", 400 }), 1, 0 })) },
                { "input", new BsonDocument("$sum", "$in") },
                { "cached", new BsonDocument("$sum", "$cached") },
                { "output", new BsonDocument("$sum", "$outTok") },
                { "cost", new BsonDocument("$sum", "$cost") },
                { "avg", new BsonDocument("$avg", "$dur") },
                {
                    "p95", new BsonDocument("$max", new BsonDocument("$cond", new BsonArray
                    {
                        new BsonDocument("$eq", new BsonArray { "$rank", new BsonDocument("$ceil", new BsonDocument("$multiply", new BsonArray { 0.95, "$n" })) }),
                        "$dur",
                        BsonNull.Value,
                    }))
                },
            }),
            new("$sort", sort),
        };
        if (query.Limit is { } limit)
        {
            stages.Add(new BsonDocument("$limit", limit));
        }

        return stages;
    }

    /// <summary>Reads one row of <see cref="Summary"/>.</summary>
    public static UsageSummary ToSummary(BsonDocument row)
    {
        ArgumentNullException.ThrowIfNull(row);
        return new UsageSummary
        {
            Group = row["_id"].IsBsonNull ? null : row["_id"].AsString,
            Requests = row["requests"].ToInt64(),
            Errors = row["errors"].ToInt64(),
            InputTokens = row["input"].ToInt64(),
            CachedInputTokens = row["cached"].ToInt64(),
            OutputTokens = row["output"].ToInt64(),
            Cost = new Money(row["cost"].ToInt64()),
            AverageDurationMs = row["avg"].ToDouble(),
            P95DurationMs = row["p95"].ToDouble(),
        };
    }

    public static AggregateOptions SummaryOptions { get; } = new() { AllowDiskUse = true };

    /// <summary>
    /// Records of an account and key (when given) with <c>from ≤ timestamp &lt; to</c>. Periods compare exact ticks;
    /// the implied millisecond bounds on <c>ts</c> let the (account or key, ts) indexes narrow the scan.
    /// </summary>
    private static List<FilterDefinition<UsageRecordDocument>> Period(string? accountId, string? keyId, DateTimeOffset? from, DateTimeOffset? to)
    {
        var filters = new List<FilterDefinition<UsageRecordDocument>>();
        if (accountId is not null)
        {
            filters.Add(Filter.Eq(d => d.AccountId, accountId));
        }

        if (keyId is not null)
        {
            filters.Add(Filter.Eq(d => d.KeyId, keyId));
        }

        if (from is { } start)
        {
            filters.Add(Filter.Gte(d => d.UnixMilliseconds, start.ToUnixTimeMilliseconds()));
            filters.Add(Filter.Gte(d => d.Timestamp.UtcTicks, start.UtcTicks));
        }

        if (to is { } end)
        {
            filters.Add(Filter.Lte(d => d.UnixMilliseconds, end.ToUnixTimeMilliseconds()));
            filters.Add(Filter.Lt(d => d.Timestamp.UtcTicks, end.UtcTicks));
        }

        return filters;
    }
}
