using System.Globalization;

namespace UsageBilling;

/// <summary>
/// The usage-log paging cursor: the (timestamp, request id) of the last record on a page, as
/// <c>{unix ms}.{request id}</c>. Pages are ordered by timestamp then request id, both descending. The format is part of
/// the <see cref="IUsageStore"/> contract (docs/custom-stores.md): the admin endpoint refuses a cursor that does not
/// decode. Compiled into each package that pages the log (src/Shared), not public API.
/// </summary>
internal static class UsageCursor
{
    /// <summary>Encodes the cursor that follows <paramref name="last"/>.</summary>
    public static string Encode(UsageRecord last)
    {
        ArgumentNullException.ThrowIfNull(last);
        return string.Create(CultureInfo.InvariantCulture, $"{last.Timestamp.ToUnixTimeMilliseconds()}.{last.RequestId}");
    }

    /// <summary>Decodes a cursor; <see langword="null"/> for no cursor. Throws <see cref="FormatException"/> for a bad one.</summary>
    public static (DateTimeOffset Timestamp, string RequestId)? Decode(string? cursor)
    {
        if (string.IsNullOrEmpty(cursor))
        {
            return null;
        }

        var dot = cursor.IndexOf('.', StringComparison.Ordinal);
        if (dot <= 0 || dot == cursor.Length - 1 || !long.TryParse(cursor.AsSpan(0, dot), NumberStyles.None, CultureInfo.InvariantCulture, out var ms))
        {
            throw new FormatException("The cursor is not valid.");
        }

        return (DateTimeOffset.FromUnixTimeMilliseconds(ms), cursor[(dot + 1)..]);
    }

    /// <summary>Whether <paramref name="record"/> comes after the cursor position in newest-first order.</summary>
    public static bool IsAfter(UsageRecord record, (DateTimeOffset Timestamp, string RequestId) cursor)
    {
        ArgumentNullException.ThrowIfNull(record);
        var ms = record.Timestamp.ToUnixTimeMilliseconds();
        var cursorMs = cursor.Timestamp.ToUnixTimeMilliseconds();
        return ms < cursorMs || (ms == cursorMs && string.CompareOrdinal(record.RequestId, cursor.RequestId) < 0);
    }
}
