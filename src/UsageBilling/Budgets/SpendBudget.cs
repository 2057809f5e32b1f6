namespace UsageBilling;

/// <summary>
/// Spend caps in currency units per UTC calendar period: the day, the ISO week (Monday to Sunday) and the month.
/// A <see langword="null"/> cap means none. Each period's spend is counted separately, so a new period starts at
/// zero without erasing what the previous one recorded.
/// </summary>
public sealed record SpendBudget
{
    /// <summary>The most that may be spent in one UTC day.</summary>
    public Money? Daily { get; init; }

    /// <summary>The most that may be spent in one ISO week (Monday 00:00 UTC to the next Monday).</summary>
    public Money? Weekly { get; init; }

    /// <summary>The most that may be spent in one UTC calendar month.</summary>
    public Money? Monthly { get; init; }

    /// <summary>Whether any cap is set.</summary>
    public bool IsEmpty => Daily is null && Weekly is null && Monthly is null;
}
