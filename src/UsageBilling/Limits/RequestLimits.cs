namespace UsageBilling;

/// <summary>
/// Request limits for a key. Each is optional; <see langword="null"/> means "no limit" in a plan and
/// "keep the plan's value" in a key override. Windows are fixed and aligned to UTC (seconds, minutes,
/// hours, days since the Unix epoch; the quota to the UTC calendar month).
/// </summary>
public sealed record RequestLimits
{
    /// <summary>Requests per second.</summary>
    public long? RequestsPerSecond { get; init; }

    /// <summary>Requests per minute.</summary>
    public long? RequestsPerMinute { get; init; }

    /// <summary>Requests per hour.</summary>
    public long? RequestsPerHour { get; init; }

    /// <summary>Requests per day (UTC).</summary>
    public long? RequestsPerDay { get; init; }

    /// <summary>Requests per UTC calendar month.</summary>
    public long? MonthlyRequests { get; init; }

    /// <summary>LLM tokens (input + output) per minute, enforced with the reserved estimate and corrected when the call settles.</summary>
    public long? TokensPerMinute { get; init; }

    /// <summary>Returns these limits with every value that <paramref name="overrides"/> sets replaced by it.</summary>
    public RequestLimits OverriddenBy(RequestLimits? overrides) => overrides is null ? this : new RequestLimits
    {
        RequestsPerSecond = overrides.RequestsPerSecond ?? RequestsPerSecond,
        RequestsPerMinute = overrides.RequestsPerMinute ?? RequestsPerMinute,
        RequestsPerHour = overrides.RequestsPerHour ?? RequestsPerHour,
        RequestsPerDay = overrides.RequestsPerDay ?? RequestsPerDay,
        MonthlyRequests = overrides.MonthlyRequests ?? MonthlyRequests,
        TokensPerMinute = overrides.TokensPerMinute ?? TokensPerMinute,
    };

    internal IEnumerable<(string Name, long? Value)> All()
    {
        yield return (nameof(RequestsPerSecond), RequestsPerSecond);
        yield return (nameof(RequestsPerMinute), RequestsPerMinute);
        yield return (nameof(RequestsPerHour), RequestsPerHour);
        yield return (nameof(RequestsPerDay), RequestsPerDay);
        yield return (nameof(MonthlyRequests), MonthlyRequests);
        yield return (nameof(TokensPerMinute), TokensPerMinute);
    }
}
