using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace UsageBilling;

/// <summary>
/// Writes queued usage records in batches. A failed batch is retried with backoff (the store is idempotent by request
/// id, so a retry cannot duplicate) <see cref="UsageLogOptions.MaxBatchAttempts"/> times; then, if the store answers
/// reads, the batch is written by halves so that a record the store refuses alone is isolated and dead-lettered
/// (<see cref="UsageDeadLetters"/>) while the rest is written. While the store answers nothing, the batch is retried
/// until it lands and nothing is dead-lettered. On shutdown the queue is closed and drained completely.
/// After each batch, the keys seen in it get their last-used time, so the request path never writes it.
/// </summary>
/// <remarks>
/// Flush and retry delays run on the system clock, not the injected <see cref="TimeProvider"/>: they are
/// operational pacing, and a test that freezes business time must still see its records written.
/// </remarks>
internal sealed partial class UsageLogWriter : IHostedService, IAsyncDisposable
{
    private readonly UsageLogQueue _queue;
    private readonly IUsageStore _store;
    private readonly IApiKeyStore _keys;
    private readonly UsageBillingMetrics _metrics;
    private readonly UsageDeadLetters _deadLetters;
    private readonly ILogger<UsageLogWriter> _logger;
    private readonly UsageLogOptions _options;
    private readonly CancellationTokenSource _abort = new();
    private Task? _loop;

    public UsageLogWriter(UsageLogQueue queue, IUsageStore store, IApiKeyStore keys,
        UsageBillingMetrics metrics, UsageDeadLetters deadLetters, ILogger<UsageLogWriter> logger, IOptions<UsageBillingOptions> options)
    {
        _deadLetters = deadLetters;
        _queue = queue;
        _store = store;
        _keys = keys;
        _metrics = metrics;
        _logger = logger;
        _options = options.Value.UsageLog;
    }

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _loop = Task.Run(RunAsync, CancellationToken.None);
        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        _queue.Complete();
        if (_loop is null)
        {
            return;
        }

        // Give the drain until the host's shutdown timeout; only then stop retrying a failing store.
        using var registration = cancellationToken.Register(_abort.Cancel);
        await _loop.ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        await _abort.CancelAsync().ConfigureAwait(false);
        if (_loop is not null)
        {
            await _loop.ConfigureAwait(false);
        }

        _abort.Dispose();
    }

    private async Task RunAsync()
    {
        var reader = _queue.Reader;
        var batch = new List<UsageRecord>(_options.BatchSize);
        try
        {
            while (await reader.WaitToReadAsync(_abort.Token).ConfigureAwait(false))
            {
                await FillAsync(reader, batch).ConfigureAwait(false);
                await WriteAsync(batch).ConfigureAwait(false);
                batch.Clear();
            }
        }
        catch (OperationCanceledException) when (_abort.IsCancellationRequested)
        {
            var lost = batch.Count + reader.Count;
            if (lost > 0)
            {
                Log.RecordsAbandoned(_logger, lost);
            }
        }
    }

    /// <summary>
    /// Fills <paramref name="batch"/> until it holds <see cref="UsageLogOptions.BatchSize"/> records, the queue closes,
    /// or <see cref="UsageLogOptions.FlushInterval"/> passes. It waits for a full batch, not for each record: a
    /// wake-up per record would cost every metered call a thread-pool handoff.
    /// </summary>
    private async Task FillAsync(System.Threading.Channels.ChannelReader<UsageRecord> reader, List<UsageRecord> batch)
    {
        using var flush = new CancellationTokenSource(_options.FlushInterval);
        while (true)
        {
            while (batch.Count < _options.BatchSize && reader.TryRead(out var record))
            {
                batch.Add(record);
            }

            if (batch.Count >= _options.BatchSize || reader.Completion.IsCompleted || flush.IsCancellationRequested)
            {
                return;
            }

            await _queue.WhenQueued(_options.BatchSize - batch.Count).WaitAsync(flush.Token).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
    }

    private async Task WriteAsync(List<UsageRecord> batch)
    {
        if (batch.Count == 0)
        {
            return;
        }

        var backoff = new Backoff(_options.MaxRetryDelay);
        List<UsageRecord> unwritten = batch;
        while (unwritten.Count > 0)
        {
            var error = await AppendWithRetriesAsync(unwritten, backoff).ConfigureAwait(false);
            if (error is null)
            {
                break;
            }

            // The batch keeps failing. While the store does not answer at all, nothing is the records' fault: wait
            // and retry the whole batch. When it answers, find and set aside the records it refuses.
            if (await StoreAnswersAsync().ConfigureAwait(false))
            {
                Log.Isolating(_logger, error, unwritten.Count, _options.MaxBatchAttempts);
                unwritten = await IsolateAsync(unwritten).ConfigureAwait(false);
                if (unwritten.Count == 0)
                {
                    break;
                }
            }

            var delay = backoff.Next();
            Log.StoreUnreachable(_logger, unwritten.Count, delay);
            await Task.Delay(delay, _abort.Token).ConfigureAwait(false);
        }

        await TouchKeysAsync(batch).ConfigureAwait(false);
    }

    /// <summary>
    /// Writes <paramref name="records"/> by halves, recursively, so that a record the store refuses cannot hold back the
    /// others: a record that fails alone <see cref="UsageLogOptions.MaxBatchAttempts"/> times while the store answers is
    /// dead-lettered. Returns the records left unwritten because the store stopped answering meanwhile.
    /// </summary>
    private async Task<List<UsageRecord>> IsolateAsync(IReadOnlyList<UsageRecord> records)
    {
        var unwritten = new List<UsageRecord>();
        var parts = new Stack<ArraySegment<UsageRecord>>();
        var all = records.ToArray();
        PushHalves(parts, new ArraySegment<UsageRecord>(all));
        var answering = true;
        while (parts.TryPop(out var part))
        {
            if (!answering)
            {
                unwritten.AddRange(part);
                continue;
            }

            if (part.Count > 1)
            {
                if (await TryAppendAsync(part).ConfigureAwait(false) is not null)
                {
                    PushHalves(parts, part);
                }

                continue;
            }

            var error = await AppendWithRetriesAsync(part, new Backoff(_options.MaxRetryDelay)).ConfigureAwait(false);
            if (error is null)
            {
                continue;
            }

            if (await StoreAnswersAsync().ConfigureAwait(false))
            {
                _deadLetters.Add(part[0], error);
            }
            else
            {
                answering = false;
                unwritten.Add(part[0]);
            }
        }

        return unwritten;
    }

    private static void PushHalves(Stack<ArraySegment<UsageRecord>> parts, ArraySegment<UsageRecord> part)
    {
        var half = part.Count / 2;
        parts.Push(part[half..]);
        parts.Push(part[..half]);
    }

    /// <summary>Tries <paramref name="records"/> up to <see cref="UsageLogOptions.MaxBatchAttempts"/> times with backoff; returns the last error, or null once written.</summary>
    private async Task<Exception?> AppendWithRetriesAsync(IReadOnlyList<UsageRecord> records, Backoff backoff)
    {
        for (var attempt = 1; ; attempt++)
        {
            var error = await TryAppendAsync(records).ConfigureAwait(false);
            if (error is null)
            {
                backoff.Reset();
                return null;
            }

            if (attempt >= _options.MaxBatchAttempts)
            {
                return error;
            }

            var delay = backoff.Next();
            Log.BatchFailed(_logger, error, records.Count, delay);
            await Task.Delay(delay, _abort.Token).ConfigureAwait(false);
        }
    }

    private async Task<Exception?> TryAppendAsync(IReadOnlyList<UsageRecord> records)
    {
        try
        {
            await _store.AppendAsync(records, _abort.Token).ConfigureAwait(false);

            _metrics.UsageWritten(records.Count);
            return null;
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !_abort.IsCancellationRequested)
        {
            _metrics.UsageWriteFailed();
            return ex;
        }
    }

    /// <summary>
    /// Whether the store answers a read (the newest record). A store that fails writes but answers reads refuses
    /// what it is given; one that answers nothing is down, and no record is to blame.
    /// </summary>
    private async Task<bool> StoreAnswersAsync()
    {
        try
        {
            await _store.QueryAsync(new UsageQuery { Limit = 1 }, _abort.Token).ConfigureAwait(false);
            return true;
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !_abort.IsCancellationRequested)
        {
            return false;
        }
    }

    private async Task TouchKeysAsync(List<UsageRecord> batch)
    {
        var lastUse = new Dictionary<string, DateTimeOffset>(StringComparer.Ordinal);
        foreach (var record in batch)
        {
            if (record.KeyId is { } keyId && (!lastUse.TryGetValue(keyId, out var seen) || seen < record.Timestamp))
            {
                lastUse[keyId] = record.Timestamp;
            }
        }

        foreach (var (keyId, usedAt) in lastUse)
        {
            try
            {
                await _keys.TouchAsync(keyId, usedAt, _abort.Token).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                Log.TouchFailed(_logger, ex, keyId);
            }
        }
    }

    /// <summary>Exponential backoff from 100 ms, doubling up to a cap.</summary>
    private sealed class Backoff(TimeSpan max)
    {
        private static readonly TimeSpan First = TimeSpan.FromMilliseconds(100);
        private TimeSpan _next = First;

        public TimeSpan Next()
        {
            var delay = _next < max ? _next : max;
            _next = TimeSpan.FromTicks(Math.Min(_next.Ticks * 2, max.Ticks));
            return delay;
        }

        public void Reset() => _next = First;
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Warning, "Writing {Count} usage records failed; retrying in {Delay}.", EventName = "UsageBatchFailed")]
        public static partial void BatchFailed(ILogger logger, Exception exception, int count, TimeSpan delay);

        [LoggerMessage(2, LogLevel.Error, "Shutdown timed out with {Count} usage records not written because the store kept failing.", EventName = "UsageRecordsAbandoned")]
        public static partial void RecordsAbandoned(ILogger logger, int count);

        [LoggerMessage(3, LogLevel.Debug, "Recording last use of key {KeyId} failed.", EventName = "KeyTouchFailed")]
        public static partial void TouchFailed(ILogger logger, Exception exception, string keyId);

        [LoggerMessage(4, LogLevel.Warning,
            "Writing {Count} usage records failed {Attempts} times while the store answers reads; writing them by halves to set aside the records it refuses.",
            EventName = "UsageBatchIsolating")]
        public static partial void Isolating(ILogger logger, Exception exception, int count, int attempts);

        [LoggerMessage(5, LogLevel.Warning, "The usage store does not answer; {Count} usage records wait and are retried in {Delay}.", EventName = "UsageStoreUnreachable")]
        public static partial void StoreUnreachable(ILogger logger, int count, TimeSpan delay);
    }
}
