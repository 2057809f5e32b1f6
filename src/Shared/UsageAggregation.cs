using System.Globalization;

namespace UsageBilling;

/// <summary>
/// The reference semantics of <see cref="IUsageStore.SummarizeAsync"/>, over records in memory. Database stores
/// compute the same in the database; the conformance suite holds them to it. Compiled into the core package and the
/// conformance suite (src/Shared), not public API.
/// </summary>
internal static class UsageAggregation
{
    /// <summary>Summarises <paramref name="records"/> as <paramref name="query"/> asks.</summary>
    public static IReadOnlyList<UsageSummary> Summarize(IEnumerable<UsageRecord> records, UsageSummaryQuery query)
    {
        ArgumentNullException.ThrowIfNull(records);
        ArgumentNullException.ThrowIfNull(query);
        var matching = records.Where(r => r.Timestamp >= query.From && r.Timestamp < query.To
            && (query.AccountId is null || r.AccountId == query.AccountId)
            && (query.KeyId is null || r.KeyId == query.KeyId));

        var rows = matching
            .GroupBy(r => GroupOf(r, query.GroupBy))
            .Select(g => Totals(g.Key, g.ToList()))
            .ToList();
        if (query.GroupBy == UsageGrouping.None && rows.Count == 0)
        {
            rows.Add(new UsageSummary());
        }

        IEnumerable<UsageSummary> ordered = query.OrderBy switch
        {
            UsageOrder.CostDescending => rows.OrderByDescending(r => r.Cost).ThenBy(r => r.Group, StringComparer.Ordinal),
            UsageOrder.RequestsDescending => rows.OrderByDescending(r => r.Requests).ThenBy(r => r.Group, StringComparer.Ordinal),
            _ => rows.OrderBy(r => r.Group, StringComparer.Ordinal),
        };
        return (query.Limit is { } limit ? ordered.Take(limit) : ordered).ToList();
    }

    /// <summary>The nearest-rank 95th percentile of ascending-sorted values: the value at rank ⌈0.95 n⌉.</summary>
    public static double P95(IReadOnlyList<double> sortedAscending)
    {
        ArgumentNullException.ThrowIfNull(sortedAscending);
        return sortedAscending.Count == 0 ? 0 : sortedAscending[(int)Math.Ceiling(0.95 * sortedAscending.Count) - 1];
    }

    /// <summary>The group key of a record: <c>yyyy-MM-dd</c> of its UTC timestamp for days.</summary>
    public static string? GroupOf(UsageRecord record, UsageGrouping grouping)
    {
        ArgumentNullException.ThrowIfNull(record);
        return grouping switch
        {
            UsageGrouping.Day => record.Timestamp.UtcDateTime.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture),
            UsageGrouping.Model => record.Model,
            UsageGrouping.Key => record.KeyId,
            UsageGrouping.Account => record.AccountId,
            _ => null,
        };
    }

    private static UsageSummary Totals(string? group, List<UsageRecord> records)
    {
        var durations = records.Select(r => r.DurationMs).Order().ToList();
        return new UsageSummary
        {
            Group = group,
            Requests = records.Count,
            Errors = records.Count(r => r.StatusCode >= 400),
            InputTokens = records.Sum(r => r.InputTokens ?? 0),
            CachedInputTokens = records.Sum(r => r.CachedInputTokens ?? 0),
            OutputTokens = records.Sum(r => r.OutputTokens ?? 0),
            Cost = new Money(records.Sum(r => r.Cost.Nanos)),
            AverageDurationMs = durations.Average(),
            P95DurationMs = P95(durations),
        };
    }
}
