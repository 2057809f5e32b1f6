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
    /// The query's filter. Periods compare exact ticks; the implied millisecond bounds on <c>ts</c> let the
    /// (account or key, ts) indexes narrow the scan. After a cursor: older milliseconds, or the same millisecond
    /// with a smaller request id, exactly as <see cref="UsageCursor.IsAfter"/>.
    /// </summary>
    public static FilterDefinition<UsageRecordDocument> Query(UsageQuery query)
    {
        ArgumentNullException.ThrowIfNull(query);
        var filters = new List<FilterDefinition<UsageRecordDocument>>();
        if (query.AccountId is not null)
        {
            filters.Add(Filter.Eq(d => d.AccountId, query.AccountId));
        }

        if (query.KeyId is not null)
        {
            filters.Add(Filter.Eq(d => d.KeyId, query.KeyId));
        }

        if (query.From is { } from)
        {
            filters.Add(Filter.Gte(d => d.UnixMilliseconds, from.ToUnixTimeMilliseconds()));
            filters.Add(Filter.Gte(d => d.Timestamp.UtcTicks, from.UtcTicks));
        }

        if (query.To is { } to)
        {
            filters.Add(Filter.Lte(d => d.UnixMilliseconds, to.ToUnixTimeMilliseconds()));
            filters.Add(Filter.Lt(d => d.Timestamp.UtcTicks, to.UtcTicks));
        }

        if (UsageCursor.Decode(query.Cursor) is { } after)
        {
            var ms = after.Timestamp.ToUnixTimeMilliseconds();
            filters.Add(Filter.Or(
                Filter.Lt(d => d.UnixMilliseconds, ms),
                Filter.And(Filter.Eq(d => d.UnixMilliseconds, ms), Filter.Lt(d => d.RequestId, after.RequestId))));
        }

        return filters.Count == 0 ? Filter.Empty : Filter.And(filters);
    }
}
