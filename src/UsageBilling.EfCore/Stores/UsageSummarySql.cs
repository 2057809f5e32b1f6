using System.Globalization;

namespace UsageBilling.EntityFrameworkCore;

/// <summary>
/// The usage summary as one SQL statement, aggregated in the database as the reference semantics in src/Shared/UsageAggregation.cs define it:
/// counts and sums per group, the mean duration, and the nearest-rank 95th percentile (the duration at rank
/// ⌈0.95 n⌉ of each group, found with <c>ROW_NUMBER()</c>, which SQLite and PostgreSQL both have).
/// </summary>
internal static class UsageSummarySql
{
    public static string Build(BillingSchema schema, UsageSummaryQuery query)
    {
        var t = schema.Usage;
        var postgres = schema.Provider == BillingProvider.PostgreSql;
        var group = query.GroupBy switch
        {
            // Timestamps are Unix milliseconds; the day is that of the UTC time.
            UsageGrouping.Day when postgres => $"to_char(to_timestamp({t["Timestamp"]} / 1000.0) AT TIME ZONE 'UTC', 'YYYY-MM-DD')",
            UsageGrouping.Day => $"strftime('%Y-%m-%d', {t["Timestamp"]} / 1000.0, 'unixepoch')",
            UsageGrouping.Model => t["Model"],
            UsageGrouping.Key => t["KeyId"],
            UsageGrouping.Account => t["AccountId"],
            _ => "CAST(NULL AS TEXT)",
        };

        var filters = $"{t["Timestamp"]} >= @from AND {t["Timestamp"]} < @to";
        if (query.AccountId is not null)
        {
            filters += $" AND {t["AccountId"]} = @account";
        }

        if (query.KeyId is not null)
        {
            filters += $" AND {t["KeyId"]} = @key";
        }

        // Groups sort in ordinal order with the no-group row (a NULL model) first, as the reference does.
        var byGroup = postgres ? "grp COLLATE \"C\" ASC NULLS FIRST" : "grp ASC NULLS FIRST";
        var order = query.OrderBy switch
        {
            UsageOrder.CostDescending => $"cost DESC, {byGroup}",
            UsageOrder.RequestsDescending => $"requests DESC, {byGroup}",
            _ => byGroup,
        };
        var limit = query.Limit is { } rows ? "LIMIT " + Math.Max(0, rows).ToString(CultureInfo.InvariantCulture) : "";

        return $"""
            WITH matching AS (
                SELECT {group} AS grp, {t["StatusCode"]} AS status, {t["InputTokens"]} AS input_tokens,
                    {t["CachedInputTokens"]} AS cached_tokens, {t["OutputTokens"]} AS output_tokens, {t["Cost"]} AS cost, {t["DurationMs"]} AS duration
                FROM {t.Name}
                WHERE {filters}
            ),
            ranked AS (
                SELECT matching.*,
                    ROW_NUMBER() OVER (PARTITION BY grp ORDER BY duration) AS duration_rank,
                    COUNT(*) OVER (PARTITION BY grp) AS group_size
                FROM matching
            ),
            totals AS (
                SELECT grp,
                    COUNT(*) AS requests,
                    SUM(CASE WHEN status >= 400 THEN 1 ELSE 0 END) AS errors,
                    CAST(COALESCE(SUM(input_tokens), 0) AS BIGINT) AS input_tokens,
                    CAST(COALESCE(SUM(cached_tokens), 0) AS BIGINT) AS cached_tokens,
                    CAST(COALESCE(SUM(output_tokens), 0) AS BIGINT) AS output_tokens,
                    CAST(SUM(cost) AS BIGINT) AS cost,
                    AVG(duration) AS average_duration,
                    MAX(CASE WHEN duration_rank = (95 * group_size + 99) / 100 THEN duration END) AS p95_duration
                FROM ranked
                GROUP BY grp
            )
            SELECT grp, requests, errors, input_tokens, cached_tokens, output_tokens, cost, average_duration, p95_duration
            FROM totals
            ORDER BY {order}
            {limit}
            """;
    }
}
