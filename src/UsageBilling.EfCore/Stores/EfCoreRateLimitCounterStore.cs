using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace UsageBilling.EntityFrameworkCore;

/// <summary>
/// The Entity Framework Core <see cref="IRateLimitCounterStore"/>: each increment is one upsert
/// (<c>INSERT ... ON CONFLICT (key) DO UPDATE SET value = value + excluded.value RETURNING value</c>), so every app
/// instance on the database shares the counters. Expired counters are deleted in the background, in batches, at
/// most once per <see cref="UsageBillingEntityFrameworkCoreOptions.ExpiredCounterCleanupInterval"/>.
/// </summary>
internal sealed partial class EfCoreRateLimitCounterStore<TContext> : IRateLimitCounterStore, IDisposable where TContext : DbContext
{
    internal const int CleanupBatchSize = 1000;
    private const int MaxCleanupBatches = 50;

    private readonly BillingDatabase<TContext> _database;
    private readonly TimeProvider _timeProvider;
    private readonly ILogger _logger;
    private readonly TimeSpan _cleanupInterval;
    private readonly CancellationTokenSource _disposed = new();
    private long _nextCleanupTicks;
    private int _cleaning;
    private int _disposing;
    private string? _upsertSql;
    private string? _deleteExpiredSql;

    public EfCoreRateLimitCounterStore(BillingDatabase<TContext> database, TimeProvider timeProvider,
        IOptions<UsageBillingEntityFrameworkCoreOptions> options, ILogger<EfCoreRateLimitCounterStore<TContext>> logger)
    {
        _database = database;
        _timeProvider = timeProvider;
        _logger = logger;
        _cleanupInterval = options.Value.ExpiredCounterCleanupInterval;
        _nextCleanupTicks = (timeProvider.GetUtcNow() + _cleanupInterval).UtcTicks;
    }

    public async ValueTask<long[]> IncrementAsync(IReadOnlyList<CounterIncrement> increments, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(increments);
        var values = new long[increments.Count];
        if (increments.Count == 0)
        {
            return values;
        }

        // Rows are locked in key order, so two calls that share counters cannot deadlock in PostgreSQL.
        var order = Enumerable.Range(0, increments.Count).OrderBy(i => increments[i].Key, StringComparer.Ordinal).ToArray();
        await _database.WriteAsync(async (transaction, ct) =>
        {
            var sql = _upsertSql ??= UpsertSql(transaction.Schema.Counters);
            foreach (var i in order)
            {
                var increment = increments[i];
                await using var upsert = transaction.Command(sql)
                    .With("@key", increment.Key)
                    .With("@delta", increment.Delta)
                    .With("@expires", StoredTime.ToTicks(increment.ExpiresAt));
                await using var reader = await upsert.ExecuteReaderAsync(ct).ConfigureAwait(false);
                await reader.ReadAsync(ct).ConfigureAwait(false);
                values[i] = reader.GetInt64(0);
            }

            await transaction.CommitAsync(ct).ConfigureAwait(false);
            return true;
        }, cancellationToken).ConfigureAwait(false);

        ScheduleCleanup();
        return values;
    }

    public ValueTask<long[]> GetAsync(IReadOnlyList<string> keys, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(keys);
        if (keys.Count == 0)
        {
            return ValueTask.FromResult(Array.Empty<long>());
        }

        var distinct = keys.Distinct(StringComparer.Ordinal).ToList();
        return _database.ReadAsync(static async (context, _, state) =>
        {
            var found = await context.Set<RateLimitCounterEntity>().AsNoTracking()
                .Where(c => state.distinct.Contains(c.Key))
                .ToDictionaryAsync(c => c.Key, c => c.Value, StringComparer.Ordinal, state.cancellationToken).ConfigureAwait(false);
            return state.keys.Select(k => found.GetValueOrDefault(k)).ToArray();
        }, (keys, distinct, cancellationToken), cancellationToken);
    }

    /// <summary>
    /// Stops a background cleanup that is under way. The container disposes the store at shutdown, once for each
    /// registration that hands it out, so this runs more than once.
    /// </summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposing, 1) == 0)
        {
            _disposed.Cancel();
            _disposed.Dispose();
        }
    }

    /// <summary>Deletes counters that expired at or before <paramref name="now"/>, a batch at a time. Returns how many.</summary>
    internal async Task<int> DeleteExpiredAsync(DateTimeOffset now, CancellationToken cancellationToken)
    {
        var total = 0;
        for (var batch = 0; batch < MaxCleanupBatches; batch++)
        {
            var deleted = await _database.WriteAsync(async (transaction, ct) =>
            {
                var sql = _deleteExpiredSql ??= DeleteExpiredSql(transaction.Schema.Counters);
                await using var delete = transaction.Command(sql).With("@now", StoredTime.ToTicks(now)).With("@max", CleanupBatchSize);
                var count = await delete.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
                await transaction.CommitAsync(ct).ConfigureAwait(false);
                return count;
            }, cancellationToken).ConfigureAwait(false);
            total += deleted;
            if (deleted < CleanupBatchSize)
            {
                break;
            }
        }

        return total;
    }

    private void ScheduleCleanup()
    {
        var now = _timeProvider.GetUtcNow();
        if (now.UtcTicks < Interlocked.Read(ref _nextCleanupTicks) || Interlocked.CompareExchange(ref _cleaning, 1, 0) != 0)
        {
            return;
        }

        Interlocked.Exchange(ref _nextCleanupTicks, (now + _cleanupInterval).UtcTicks);
        CancellationToken stopping;
        try
        {
            stopping = _disposed.Token;
        }
        catch (ObjectDisposedException)
        {
            return;
        }

        _ = Task.Run(async () =>
        {
            try
            {
                var deleted = await DeleteExpiredAsync(now, stopping).ConfigureAwait(false);
                if (deleted > 0)
                {
                    Log.Deleted(_logger, deleted);
                }
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                // Cleanup is housekeeping: a failure (for example during shutdown) is retried at the next interval.
                Log.CleanupFailed(_logger, ex);
            }
            finally
            {
                Volatile.Write(ref _cleaning, 0);
            }
        });
    }

    private static string UpsertSql(BillingTable t) => $"""
        INSERT INTO {t.Name} AS c ({t["Key"]}, {t["Value"]}, {t["ExpiresAt"]}) VALUES (@key, @delta, @expires)
        ON CONFLICT ({t["Key"]}) DO UPDATE SET {t["Value"]} = c.{t["Value"]} + excluded.{t["Value"]}
        RETURNING {t["Value"]}
        """;

    private static string DeleteExpiredSql(BillingTable t) => $"""
        DELETE FROM {t.Name} WHERE {t["Key"]} IN (
            SELECT {t["Key"]} FROM {t.Name} WHERE {t["ExpiresAt"]} <= @now LIMIT @max)
        """;

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Debug, "Deleted {Count} expired rate-limit counters.", EventName = "CountersDeleted")]
        public static partial void Deleted(ILogger logger, int count);

        [LoggerMessage(2, LogLevel.Warning, "Deleting expired rate-limit counters failed; will retry later.", EventName = "CounterCleanupFailed")]
        public static partial void CleanupFailed(ILogger logger, Exception exception);
    }
}
