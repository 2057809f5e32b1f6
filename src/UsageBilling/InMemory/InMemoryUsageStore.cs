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
