using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace UsageBilling.EntityFrameworkCore;

/// <summary>
/// The Entity Framework Core <see cref="ICounterStore"/>: all increments of a call are one multi-row upsert
/// (<c>INSERT ... VALUES (...), (...) ON CONFLICT (key) DO UPDATE SET value = value + excluded.value RETURNING key, value</c>), so every app
/// instance on the database shares the counters. Expired counters are deleted in the background, in batches, at
/// most once per <see cref="UsageBillingEntityFrameworkCoreOptions.ExpiredCounterCleanupInterval"/>.
/// </summary>
internal sealed partial class EfCoreRateLimitCounterStore<TContext> : ICounterStore, IDisposable where TContext : DbContext
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
    private string? _lockSql;
    private string? _readSql;
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
        if (increments.Count == 0)
        {
            return [];
        }

        var values = await _database.WriteAsync(async (transaction, ct) =>
        {
            var values = await IncrementAsync(transaction, increments, ct).ConfigureAwait(false);
            await transaction.CommitAsync(ct).ConfigureAwait(false);
            return values;
        }, cancellationToken).ConfigureAwait(false);
        ScheduleCleanup();
        return values;
    }

    /// <summary>Adds <paramref name="increments"/> in <paramref name="transaction"/>; the values after, in the same order.</summary>
    internal async Task<long[]> IncrementAsync(BillingTransaction transaction, IReadOnlyList<CounterIncrement> increments, CancellationToken cancellationToken)
    {
        var values = new long[increments.Count];
        if (increments.Count > 0)
        {
            var batch = new StatementBatch(transaction);
            AddIncrement(batch, increments, values);
            await batch.ExecuteAsync(cancellationToken).ConfigureAwait(false);
        }

        return values;
    }

    /// <summary>Adds the upsert of <paramref name="increments"/> (at least one) to <paramref name="batch"/>; it fills <paramref name="values"/> in their order.</summary>
    internal void AddIncrement(StatementBatch batch, IReadOnlyList<CounterIncrement> increments, long[] values)
    {
        // One multi-row upsert for all of them. Rows are locked in key order, so two calls that share counters cannot
        // deadlock in PostgreSQL; a key named twice is moved once by the sum of its deltas (both read its final value).
        var merged = new CounterIncrement[increments.Count];
        for (var i = 0; i < merged.Length; i++)
        {
            merged[i] = increments[i];
        }

        Array.Sort(merged, static (a, b) => string.CompareOrdinal(a.Key, b.Key));
        var count = 0;
        foreach (var increment in merged)
        {
            if (count > 0 && string.Equals(merged[count - 1].Key, increment.Key, StringComparison.Ordinal))
            {
                var sum = merged[count - 1];
                merged[count - 1] = sum with
                {
                    Delta = checked(sum.Delta + increment.Delta),
                    ExpiresAt = sum.ExpiresAt > increment.ExpiresAt ? sum.ExpiresAt : increment.ExpiresAt,
                };
            }
            else
            {
                merged[count++] = increment;
            }
        }

        var keys = new string[count];
        var deltas = new long[count];
        var expiries = new long[count];
        for (var i = 0; i < count; i++)
        {
            (keys[i], deltas[i], expiries[i]) = (merged[i].Key, merged[i].Delta, StoredTime.ToTicks(merged[i].ExpiresAt));
        }

        // PostgreSQL: the rows as three arrays; SQLite: one JSON array of rows. One statement text for any count.
        var table = batch.Schema.Counters;
        var arrays = batch.Schema.Provider == BillingProvider.PostgreSql;
        var sql = _upsertSql ??= UpsertSql(table, arrays);
        batch.Add(sql, async (reader, ct) =>
        {
            // PostgreSQL answers each row's position in the arrays (1-based); SQLite its key, whose place in the sorted
            // (ordinal) keys is found by binary search.
            var counted = new long[keys.Length];
            while (await reader.ReadAsync(ct).ConfigureAwait(false))
            {
                var index = arrays ? checked((int)reader.GetInt64(0)) - 1 : Array.BinarySearch(keys, reader.GetString(0), StringComparer.Ordinal);
                counted[index] = reader.GetInt64(1);
            }

            for (var i = 0; i < increments.Count; i++)
            {
                values[i] = counted[Array.BinarySearch(keys, increments[i].Key, StringComparer.Ordinal)];
            }
        }, 3).WithRows(count, ("@k", keys), ("@d", deltas), ("@e", expiries));
    }

    /// <summary>
    /// PostgreSQL: adds the lock of the existing counters among <paramref name="keys"/>, in key order (the order every
    /// transaction of the store takes them in), for a transaction that moves them only after rows it takes later in the
    /// store's lock order (counters, reservations, balances): a completion whose counts depend on its settle. Nothing
    /// on SQLite, which has one writer and no row locks.
    /// </summary>
    internal void AddLock(StatementBatch batch, string[] keys)
    {
        if (batch.Schema.Provider == BillingProvider.PostgreSql && keys.Length > 0)
        {
            var t = batch.Schema.Counters;
            batch.Add(_lockSql ??= $"SELECT {t["Key"]} FROM {t.Name} WHERE {t["Key"]} = ANY (@k) ORDER BY {t["Key"]} FOR UPDATE", null, 1).WithArray("@k", keys);
        }
    }

    /// <summary>PostgreSQL: adds the read of the counters <paramref name="keys"/> into <paramref name="values"/> (a missing one is not added).</summary>
    internal void AddRead(StatementBatch batch, string[] keys, Dictionary<string, long> values)
    {
        if (keys.Length > 0)
        {
            var t = batch.Schema.Counters;
            batch.Add(_readSql ??= $"SELECT {t["Key"]}, {t["Value"]} FROM {t.Name} WHERE {t["Key"]} = ANY (@k)", async (reader, ct) =>
            {
                while (await reader.ReadAsync(ct).ConfigureAwait(false))
                {
                    values[reader.GetString(0)] = reader.GetInt64(1);
                }
            }, 1).WithArray("@k", keys);
        }
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

    internal void ScheduleCleanup()
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

    // The rows are in key order, and unnest and jsonb_each yield them in that order: rows are locked in key order.
    // PostgreSQL returns each row's position in the arrays (a number, not the key's text to read back); SQLite, which
    // has no data-modifying WITH, the key. The WHERE keeps SQLite from reading the upsert's ON CONFLICT as a join's.
    private static string UpsertSql(BillingTable t, bool arrays) => arrays
        ? $"""
            WITH u (k, d, e, i) AS (SELECT * FROM unnest(@k, @d, @e) WITH ORDINALITY),
            upserted AS (
                INSERT INTO {t.Name} AS c ({t["Key"]}, {t["Value"]}, {t["ExpiresAt"]}) SELECT k, d, e FROM u ORDER BY i
                ON CONFLICT ({t["Key"]}) DO UPDATE SET {t["Value"]} = c.{t["Value"]} + excluded.{t["Value"]}
                RETURNING c.{t["Key"]} AS k, c.{t["Value"]} AS v)
            SELECT u.i, upserted.v FROM upserted JOIN u ON u.k = upserted.k
            """
        : $"""
            INSERT INTO {t.Name} AS c ({t["Key"]}, {t["Value"]}, {t["ExpiresAt"]})
            {JsonRows.Select("k", "d", "e")} WHERE TRUE
            ON CONFLICT ({t["Key"]}) DO UPDATE SET {t["Value"]} = c.{t["Value"]} + excluded.{t["Value"]}
            RETURNING {t["Key"]}, {t["Value"]}
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
