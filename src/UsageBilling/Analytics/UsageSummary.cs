namespace UsageBilling;

/// <summary>How <see cref="IUsageStore.SummarizeAsync"/> groups records.</summary>
public enum UsageGrouping
{
    /// <summary>One row for the whole period.</summary>
    None = 0,

    /// <summary>One row per UTC day (<see cref="UsageSummary.Group"/> is <c>yyyy-MM-dd</c>).</summary>
    Day = 1,

    /// <summary>One row per model (records without a model are grouped under <see langword="null"/>).</summary>
    Model = 2,

    /// <summary>One row per API key.</summary>
    Key = 3,

    /// <summary>One row per account.</summary>
    Account = 4,
}

/// <summary>The order of summary rows.</summary>
public enum UsageOrder
{
    /// <summary>By group, ascending (days in time order).</summary>
    Group = 0,

    /// <summary>By cost, highest first (ties by group).</summary>
    CostDescending = 1,

    /// <summary>By request count, highest first (ties by group).</summary>
    RequestsDescending = 2,
}

/// <summary>What to summarise: records with <c>From &lt;= Timestamp &lt; To</c> (UTC), optionally of one account or key.</summary>
public sealed record UsageSummaryQuery
{
    /// <summary>The start of the period (inclusive).</summary>
    public required DateTimeOffset From { get; init; }

    /// <summary>The end of the period (exclusive).</summary>
    public required DateTimeOffset To { get; init; }

    /// <summary>Only this account's records.</summary>
    public string? AccountId { get; init; }

    /// <summary>Only this key's records.</summary>
    public string? KeyId { get; init; }

    /// <summary>How to group.</summary>
    public UsageGrouping GroupBy { get; init; }

    /// <summary>How to order the rows.</summary>
    public UsageOrder OrderBy { get; init; }

    /// <summary>The most rows to return (for "top N"); <see langword="null"/> for all.</summary>
    public int? Limit { get; init; }
}

/// <summary>Totals for one group of usage records.</summary>
public sealed record UsageSummary
{
    /// <summary>The group: a day (<c>yyyy-MM-dd</c>), model, key id or account id; <see langword="null"/> for <see cref="UsageGrouping.None"/>.</summary>
    public string? Group { get; init; }

    /// <summary>How many requests.</summary>
    public long Requests { get; init; }

    /// <summary>How many of them answered with a status code of 400 or more.</summary>
    public long Errors { get; init; }

    /// <summary>Input tokens (not cached).</summary>
    public long InputTokens { get; init; }

    /// <summary>Cached input tokens.</summary>
    public long CachedInputTokens { get; init; }

    /// <summary>Output tokens.</summary>
    public long OutputTokens { get; init; }

    /// <summary>What the requests were charged.</summary>
    public Money Cost { get; init; }

    /// <summary>The mean duration in milliseconds.</summary>
    public double AverageDurationMs { get; init; }

    /// <summary>The 95th percentile duration in milliseconds (nearest rank: the smallest duration at or above which 95 % of requests fall).</summary>
    public double P95DurationMs { get; init; }
}
