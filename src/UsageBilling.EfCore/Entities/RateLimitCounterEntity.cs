namespace UsageBilling.EntityFrameworkCore;

/// <summary>A row of the rate-limit counters table.</summary>
internal sealed class RateLimitCounterEntity
{
    public string Key { get; set; } = null!;

    public long Value { get; set; }

    /// <summary>UTC ticks; the row may be deleted after this.</summary>
    public long ExpiresAt { get; set; }
}
