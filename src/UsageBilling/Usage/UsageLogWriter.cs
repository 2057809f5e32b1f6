using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace UsageBilling;

/// <summary>
/// Writes queued usage records in batches. A failed batch is retried with backoff and never dropped (the store is
/// idempotent by request id, so a retry cannot duplicate). On shutdown the queue is closed and drained completely.
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
    private readonly ILogger<UsageLogWriter> _logger;
    private readonly UsageLogOptions _options;
    private readonly CancellationTokenSource _abort = new();
    private Task? _loop;

    public UsageLogWriter(UsageLogQueue queue, IUsageStore store, IApiKeyStore keys,
        UsageBillingMetrics metrics, ILogger<UsageLogWriter> logger, IOptions<UsageBillingOptions> options)
    {
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

    private async Task FillAsync(System.Threading.Channels.ChannelReader<UsageRecord> reader, List<UsageRecord> batch)
    {
        using var flush = new CancellationTokenSource(_options.FlushInterval);
        while (batch.Count < _options.BatchSize)
        {
            while (batch.Count < _options.BatchSize && reader.TryRead(out var record))
            {
                batch.Add(record);
            }

            if (batch.Count >= _options.BatchSize || reader.Completion.IsCompleted)
            {
                return;
            }

            try
            {
                if (!await reader.WaitToReadAsync(flush.Token).ConfigureAwait(false))
                {
                    return;
                }
            }
            catch (OperationCanceledException) when (flush.IsCancellationRequested)
            {
                return;
            }
        }
    }

    private async Task WriteAsync(List<UsageRecord> batch)
    {
        if (batch.Count == 0)
        {
            return;
        }

        var delay = TimeSpan.FromMilliseconds(100);
        while (true)
        {
            try
            {
                await _store.AppendAsync(batch, _abort.Token).ConfigureAwait(false);
                _metrics.UsageWritten(batch.Count);
                break;
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !_abort.IsCancellationRequested)
            {
                _metrics.UsageWriteFailed();
                Log.BatchFailed(_logger, ex, batch.Count, delay);
                await Task.Delay(delay, _abort.Token).ConfigureAwait(false);
                delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, _options.MaxRetryDelay.Ticks));
            }
        }

        await TouchKeysAsync(batch).ConfigureAwait(false);
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

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Warning, "Writing {Count} usage records failed; retrying in {Delay}.", EventName = "UsageBatchFailed")]
        public static partial void BatchFailed(ILogger logger, Exception exception, int count, TimeSpan delay);

        [LoggerMessage(2, LogLevel.Error, "Shutdown timed out with {Count} usage records not written because the store kept failing.", EventName = "UsageRecordsAbandoned")]
        public static partial void RecordsAbandoned(ILogger logger, int count);

        [LoggerMessage(3, LogLevel.Debug, "Recording last use of key {KeyId} failed.", EventName = "KeyTouchFailed")]
        public static partial void TouchFailed(ILogger logger, Exception exception, string keyId);
    }
}
