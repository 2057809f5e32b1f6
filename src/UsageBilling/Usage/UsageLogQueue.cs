using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace UsageBilling;

/// <summary>
/// The bounded queue between requests and <see cref="UsageLogWriter"/>. Enqueuing is synchronous while there is
/// room; when the queue is full the request waits at most <see cref="UsageLogOptions.MaxEnqueueWait"/> for room, then
/// the record is dropped (logged as an error, counted in <c>usagebilling.usage_log.dropped</c>), so that a slow or
/// failing usage store never holds up metered requests. After shutdown began records are written straight to the
/// store. Client strings in a record are normalized here (<see cref="Normalize"/>), whatever path made the record.
/// </summary>
internal sealed partial class UsageLogQueue
{
    /// <summary>The longest route kept (a route pattern, or the path when the endpoint has none).</summary>
    internal const int MaxRouteLength = 512;

    /// <summary>The longest identifier kept (request id, key id, idempotency key).</summary>
    internal const int MaxIdLength = 512;

    /// <summary>Drops after the first are logged at most this often (each is counted).</summary>
    private const long DropLogIntervalMs = 10_000;

    private readonly Channel<UsageRecord> _channel;
    private readonly IUsageStore _store;
    private readonly UsageBillingMetrics _metrics;
    private readonly ILogger<UsageLogQueue> _logger;
    private readonly TimeSpan _maxWait;
    private volatile bool _completed;
    private TaskCompletionSource? _waiting;
    private int _wanted = int.MaxValue;
    private long _dropped;
    private long _droppedLogged;
    private long _lastDropLog = long.MinValue;

    public UsageLogQueue(IOptions<UsageBillingOptions> options, IUsageStore store, UsageBillingMetrics metrics, ILogger<UsageLogQueue> logger)
    {
        _store = store;
        _metrics = metrics;
        _logger = logger;
        _maxWait = options.Value.UsageLog.MaxEnqueueWait;
        _channel = Channel.CreateBounded<UsageRecord>(new BoundedChannelOptions(options.Value.UsageLog.QueueCapacity)
        {
            FullMode = BoundedChannelFullMode.Wait,
            SingleReader = true,
            SingleWriter = false,
        });
    }

    public ChannelReader<UsageRecord> Reader => _channel.Reader;

    /// <summary>How many records were dropped because the queue stayed full.</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    /// <summary>
    /// Queues <paramref name="record"/>. Completes at once while there is room; otherwise within
    /// <see cref="UsageLogOptions.MaxEnqueueWait"/> (the record dropped if no room came), or after a direct store write
    /// once shutdown began. Never throws for a full queue or a failing store.
    /// </summary>
    public ValueTask EnqueueAsync(UsageRecord record)
    {
        record = Normalize(record);
        if (!_channel.Writer.TryWrite(record))
        {
            return EnqueueSlowAsync(record);
        }

        Queued();
        return ValueTask.CompletedTask;
    }

    public void Complete()
    {
        _completed = true;
        _channel.Writer.TryComplete();
        Volatile.Read(ref _waiting)?.TrySetResult();
    }

    /// <summary>
    /// A task that completes once at least <paramref name="count"/> records are queued, or the queue is closed. The
    /// writer waits for this instead of for each record, so that a lone request's record does not wake it (a
    /// thread-pool handoff per call); one writer waits at a time.
    /// </summary>
    internal Task WhenQueued(int count)
    {
        var waiting = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Volatile.Write(ref _wanted, count);
        Volatile.Write(ref _waiting, waiting);

        // Records queued before the writer began to wait, or a close, release it now.
        if (_completed || _channel.Reader.Count >= count)
        {
            waiting.TrySetResult();
        }

        return waiting.Task;
    }

    /// <summary>A record was queued: releases the waiting writer when the count it waits for is reached.</summary>
    private void Queued()
    {
        if (Volatile.Read(ref _waiting) is { Task.IsCompleted: false } waiting && _channel.Reader.Count >= Volatile.Read(ref _wanted))
        {
            waiting.TrySetResult();
        }
    }

    /// <summary>
    /// <paramref name="record"/> with every string a client can influence made safe for any store (no NUL or other
    /// control character, no lone surrogate, a bounded length): see <see cref="ClientStrings.Normalize"/>. The same
    /// instance when nothing needs to change.
    /// </summary>
    internal static UsageRecord Normalize(UsageRecord record)
    {
        var requestId = ClientStrings.Normalize(record.RequestId, MaxIdLength);
        var keyId = record.KeyId is null ? null : ClientStrings.Normalize(record.KeyId, MaxIdLength);
        var accountId = record.AccountId is null ? null : ClientStrings.Normalize(record.AccountId, MaxIdLength);
        var method = ClientStrings.Normalize(record.Method, ClientStrings.MaxLength);
        var route = ClientStrings.Normalize(record.Route, MaxRouteLength);
        var idempotencyKey = record.IdempotencyKey is null ? null : ClientStrings.Normalize(record.IdempotencyKey, MaxIdLength);
        var model = record.Model is null ? null : ClientStrings.Normalize(record.Model);
        var outcome = record.Outcome is null ? null : ClientStrings.Normalize(record.Outcome);
        if (ReferenceEquals(requestId, record.RequestId) && ReferenceEquals(keyId, record.KeyId) && ReferenceEquals(accountId, record.AccountId)
            && ReferenceEquals(method, record.Method) && ReferenceEquals(route, record.Route) && ReferenceEquals(idempotencyKey, record.IdempotencyKey)
            && ReferenceEquals(model, record.Model) && ReferenceEquals(outcome, record.Outcome))
        {
            return record;
        }

        return record with
        {
            RequestId = requestId, KeyId = keyId, AccountId = accountId, Method = method, Route = route, IdempotencyKey = idempotencyKey, Model = model,
            Outcome = outcome,
        };
    }

    private async ValueTask EnqueueSlowAsync(UsageRecord record)
    {
        if (!_completed && _maxWait > TimeSpan.Zero)
        {
            using var wait = new CancellationTokenSource(_maxWait);
            try
            {
                await _channel.Writer.WriteAsync(record, wait.Token).ConfigureAwait(false);
                Queued();
                return;
            }
            catch (OperationCanceledException) when (wait.IsCancellationRequested)
            {
                // No room came in time: drop below.
            }
            catch (ChannelClosedException)
            {
                // Shutdown began while waiting: write directly below.
            }
        }

        if (_completed)
        {
            await WriteDirectAsync(record).ConfigureAwait(false);
            return;
        }

        Drop(record);
    }

    /// <summary>The writer has stopped (the host is shutting down): write this one directly.</summary>
    private async ValueTask WriteDirectAsync(UsageRecord record)
    {
        try
        {
            await _store.AppendAsync([record]).ConfigureAwait(false);
            _metrics.UsageWritten(1);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            _metrics.UsageWriteFailed();
            Interlocked.Increment(ref _dropped);
            _metrics.UsageDropped();
            Log.DirectWriteFailed(_logger, ex, record.RequestId);
        }
    }

    private void Drop(UsageRecord record)
    {
        var dropped = Interlocked.Increment(ref _dropped);
        _metrics.UsageDropped();

        // A full queue drops many records in a row: log the first, then at most every DropLogIntervalMs, with the count.
        var now = Environment.TickCount64;
        var last = Interlocked.Read(ref _lastDropLog);
        if ((last == long.MinValue || now - last >= DropLogIntervalMs) && Interlocked.CompareExchange(ref _lastDropLog, now, last) == last)
        {
            var since = dropped - Interlocked.Exchange(ref _droppedLogged, dropped);
            Log.RecordDropped(_logger, record.RequestId, _maxWait, since, dropped);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Error,
            "The usage log queue stayed full for {MaxWait} (the usage store is failing or too slow): usage record {RequestId} was dropped; {Count} dropped since the last such message, {Total} in all. Drops are counted in usagebilling.usage_log.dropped.",
            EventName = "UsageRecordDropped")]
        public static partial void RecordDropped(ILogger logger, string requestId, TimeSpan maxWait, long count, long total);

        [LoggerMessage(2, LogLevel.Error, "Writing usage record {RequestId} directly during shutdown failed; the record is lost.", EventName = "UsageRecordLostAtShutdown")]
        public static partial void DirectWriteFailed(ILogger logger, Exception exception, string requestId);
    }
}
