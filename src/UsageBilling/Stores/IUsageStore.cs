namespace UsageBilling.Stores;

/// <summary>The usage log: written in batches by a background service, read by the admin endpoints.</summary>
public interface IUsageStore
{
    /// <summary>
    /// Appends records. Idempotent by <see cref="UsageRecord.RequestId"/>: a record whose id is already stored
    /// (in this batch or an earlier one) is skipped, so a retried batch never duplicates.
    /// </summary>
    ValueTask AppendAsync(IReadOnlyList<UsageRecord> records, CancellationToken cancellationToken = default);

    /// <summary>Reads records matching <paramref name="query"/>, newest first (by timestamp, then request id).</summary>
    ValueTask<UsagePage> QueryAsync(UsageQuery query, CancellationToken cancellationToken = default);

    /// <summary>
    /// Aggregates records in the database (never by loading them all): totals, errors, tokens, cost, mean and p95
    /// duration, grouped and ordered as asked. Groups with no records are not returned; for
    /// <see cref="UsageGrouping.None"/> an empty period gives one row of zeros.
    /// </summary>
    ValueTask<IReadOnlyList<UsageSummary>> SummarizeAsync(UsageSummaryQuery query, CancellationToken cancellationToken = default);
}
