using System.Globalization;

namespace UsageBilling;

/// <summary>
/// The in-memory <see cref="IUsageStore"/>: a ring of the newest <see cref="UsageLogOptions.InMemoryCapacity"/>
/// records (the oldest are dropped), so that a long-running process does not grow without bound.
/// </summary>
internal sealed class InMemoryUsageStore : IUsageStore
{
    private readonly Lock _lock = new();
    private readonly Queue<UsageRecord> _records = new();
    private readonly HashSet<string> _ids = new(StringComparer.Ordinal);
    private readonly int _capacity;

    public InMemoryUsageStore(Microsoft.Extensions.Options.IOptions<UsageBillingOptions> options) => _capacity = options.Value.UsageLog.InMemoryCapacity;

    internal InMemoryUsageStore(int capacity = 100_000) => _capacity = capacity;

    public ValueTask AppendAsync(IReadOnlyList<UsageRecord> records, CancellationToken cancellationToken = default)
    {
        lock (_lock)
        {
            foreach (var record in records)
            {
                if (_ids.Add(record.RequestId))
                {
                    _records.Enqueue(record);
                    if (_records.Count > _capacity)
                    {
                        _ids.Remove(_records.Dequeue().RequestId);
                    }
                }
            }
        }

        return ValueTask.CompletedTask;
    }

    public ValueTask<UsagePage> QueryAsync(UsageQuery query, CancellationToken cancellationToken = default)
    {
        var after = UsageCursor.Decode(query.Cursor);
        lock (_lock)
        {
            var page = _records
                .Where(r => (query.AccountId is null || r.AccountId == query.AccountId)
                    && (query.KeyId is null || r.KeyId == query.KeyId)
                    && (query.From is null || r.Timestamp >= query.From)
                    && (query.To is null || r.Timestamp < query.To)
                    && (after is null || UsageCursor.IsAfter(r, after.Value)))
                // The cursor keeps milliseconds, so order by exactly what it compares.
                .OrderByDescending(r => r.Timestamp.ToUnixTimeMilliseconds())
                .ThenByDescending(r => r.RequestId, StringComparer.Ordinal)
                .Take(query.Limit + 1)
                .ToList();
            var next = page.Count > query.Limit ? UsageCursor.Encode(page[query.Limit - 1]) : null;
            if (page.Count > query.Limit)
            {
                page.RemoveAt(page.Count - 1);
            }

            return ValueTask.FromResult(new UsagePage(page, next));
        }
    }

    public ValueTask<IReadOnlyList<UsageSummary>> SummarizeAsync(UsageSummaryQuery query, CancellationToken cancellationToken = default)
    {
        lock (_lock)
        {
            return ValueTask.FromResult(UsageAggregation.Summarize(_records, query));
        }
    }
}

/// <summary>
/// The usage-log paging cursor: the (timestamp, request id) of the last record on a page, as
/// <c>{unix ms}.{request id}</c>. Pages are ordered by timestamp then request id, both descending.
/// Store implementations may use it to page the same way.
/// </summary>
public static class UsageCursor
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
