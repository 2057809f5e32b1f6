namespace UsageBilling.EntityFrameworkCore;

/// <summary>
/// Timestamps are stored as UTC ticks (100 ns since 0001-01-01) in <c>bigint</c> columns: they round-trip exactly and
/// compare and sort correctly on every provider (SQLite has no date type). The usage log keeps Unix milliseconds.
/// </summary>
internal static class StoredTime
{
    public const string TicksComment = "UTC ticks: 100-nanosecond intervals since 0001-01-01T00:00:00Z.";

    public const string NanosComment = "Nano-units (1e-9) of the account's currency unit.";

    public static long ToTicks(DateTimeOffset value) => value.UtcTicks;

    public static long? ToTicks(DateTimeOffset? value) => value?.UtcTicks;

    public static DateTimeOffset FromTicks(long ticks) => new(ticks, TimeSpan.Zero);

    public static DateTimeOffset? FromTicks(long? ticks) => ticks is { } value ? new DateTimeOffset(value, TimeSpan.Zero) : null;

    /// <summary>The smallest whole Unix millisecond at or after <paramref name="value"/>.</summary>
    public static long CeilingUnixMilliseconds(DateTimeOffset value)
    {
        var ms = value.ToUnixTimeMilliseconds();
        return DateTimeOffset.FromUnixTimeMilliseconds(ms) < value ? ms + 1 : ms;
    }
}
