namespace UsageBilling;

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
}
