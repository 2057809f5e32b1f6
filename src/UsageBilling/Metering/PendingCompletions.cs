using System.Threading.Channels;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace UsageBilling;

/// <summary>
/// Finishes the writes of calls that already happened — a settle, a release, a counter give-back or correction —
/// when the store failed them on the request path: each is retried off the request path, with capped exponential
/// backoff and jitter, until it lands. A hold keeps its credit meanwhile, and the sweeper of this instance waits
/// (<see cref="Count"/>) so that it never releases the hold of a call known to have completed. Only a process crash
/// loses what is still queued here; shutdown tries each once more and logs what it could not write.
/// </summary>
internal sealed partial class PendingCompletions : BackgroundService
{
    private static readonly TimeSpan FirstDelay = TimeSpan.FromMilliseconds(100);
    private static readonly TimeSpan MaxDelay = TimeSpan.FromSeconds(30);

    private readonly Channel<PendingWrite> _queue = Channel.CreateUnbounded<PendingWrite>(new UnboundedChannelOptions { SingleReader = true });
    private readonly TimeProvider _timeProvider;
    private readonly UsageBillingMetrics _metrics;
    private readonly ILogger<PendingCompletions> _logger;
    private int _count;

    public PendingCompletions(TimeProvider timeProvider, UsageBillingMetrics metrics, ILogger<PendingCompletions> logger)
    {
        _timeProvider = timeProvider;
        _metrics = metrics;
        _logger = logger;
    }

    /// <summary>How many writes are waiting to be retried.</summary>
    public int Count => Volatile.Read(ref _count);

    /// <summary>Queues <paramref name="write"/> for retry after it failed with <paramref name="error"/> on the request path.</summary>
    /// <param name="what">What the write is, for logs (for example <c>settle res_01…</c>).</param>
    /// <param name="write">The write; it must be idempotent (every store write it calls is).</param>
    /// <param name="error">Why it failed the first time.</param>
    public void Defer(string what, Func<CancellationToken, ValueTask> write, Exception error)
    {
        Log.Deferred(_logger, error, what);
        Interlocked.Increment(ref _count);
        _metrics.CompletionDeferred();
        _queue.Writer.TryWrite(new PendingWrite(what, write, 1, _timeProvider.GetUtcNow() + FirstDelay));
    }

    /// <summary>Runs <paramref name="write"/> now; if it throws, it is queued for retry. Returns whether it landed now.</summary>
    public async ValueTask<bool> RunAsync(string what, Func<CancellationToken, ValueTask> write)
    {
        try
        {
            await write(CancellationToken.None).ConfigureAwait(false);
            return true;
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            Defer(what, write, ex);
            return false;
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var waiting = new List<PendingWrite>();
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                while (_queue.Reader.TryRead(out var queued))
                {
                    waiting.Add(queued);
                }

                if (waiting.Count == 0)
                {
                    await _queue.Reader.WaitToReadAsync(stoppingToken).ConfigureAwait(false);
                    continue;
                }

                var now = _timeProvider.GetUtcNow();
                var stillWaiting = new List<PendingWrite>(waiting.Count);
                foreach (var item in waiting)
                {
                    if (item.DueAt > now)
                    {
                        stillWaiting.Add(item);
                    }
                    else if (!await TryAsync(item, stoppingToken).ConfigureAwait(false))
                    {
                        stillWaiting.Add(item with { Attempt = item.Attempt + 1, DueAt = now + Backoff(item.Attempt) });
                    }
                }

                waiting = stillWaiting;
                var next = waiting.Count == 0 ? DateTimeOffset.MaxValue : waiting.Min(static item => item.DueAt);
                if (next != DateTimeOffset.MaxValue)
                {
                    // Wake for the next due write, or earlier when a new one is queued.
                    using var wake = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
                    var delay = Task.Delay(Max(next - _timeProvider.GetUtcNow(), TimeSpan.Zero), _timeProvider, wake.Token);
                    var queued = _queue.Reader.WaitToReadAsync(wake.Token).AsTask();
                    await Task.WhenAny(delay, queued).ConfigureAwait(false);
                    await wake.CancelAsync().ConfigureAwait(false);
                    stoppingToken.ThrowIfCancellationRequested();
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }

        // Shutting down: one last try for each; what still fails is lost with the process, and said so.
        while (_queue.Reader.TryRead(out var queued))
        {
            waiting.Add(queued);
        }

        foreach (var item in waiting)
        {
            if (!await TryAsync(item, CancellationToken.None).ConfigureAwait(false))
            {
                Log.Lost(_logger, item.What, item.Attempt);
            }
        }
    }

    private async ValueTask<bool> TryAsync(PendingWrite item, CancellationToken cancellationToken)
    {
        try
        {
            await item.Write(cancellationToken).ConfigureAwait(false);
            Interlocked.Decrement(ref _count);
            Log.Landed(_logger, item.What, item.Attempt + 1);
            return true;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw;
        }
        catch (Exception ex)
        {
            Log.RetryFailed(_logger, ex, item.What, item.Attempt + 1);
            return false;
        }
    }

    /// <summary>100 ms doubling up to 30 s, with up to 25 % jitter so that instances recovering from one outage do not retry in step.</summary>
    internal static TimeSpan Backoff(int attempt)
    {
        var ms = Math.Min(MaxDelay.TotalMilliseconds, FirstDelay.TotalMilliseconds * Math.Pow(2, Math.Min(attempt, 20)));
        return TimeSpan.FromMilliseconds(ms * (0.75 + Random.Shared.NextDouble() * 0.25));
    }

    private static TimeSpan Max(TimeSpan a, TimeSpan b) => a > b ? a : b;

    private sealed record PendingWrite(string What, Func<CancellationToken, ValueTask> Write, int Attempt, DateTimeOffset DueAt);

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Warning, "Writing the completion '{What}' failed; it will be retried until it lands.", EventName = "CompletionDeferred")]
        public static partial void Deferred(ILogger logger, Exception exception, string what);

        [LoggerMessage(2, LogLevel.Information, "The completion '{What}' landed after {Attempts} attempts.", EventName = "CompletionLanded")]
        public static partial void Landed(ILogger logger, string what, int attempts);

        [LoggerMessage(3, LogLevel.Warning, "Attempt {Attempt} of the completion '{What}' failed.", EventName = "CompletionRetryFailed")]
        public static partial void RetryFailed(ILogger logger, Exception exception, string what, int attempt);

        [LoggerMessage(4, LogLevel.Error, "The completion '{What}' could not be written before shutdown ({Attempts} attempts); its hold, if any, is released when it expires.", EventName = "CompletionLost")]
        public static partial void Lost(ILogger logger, string what, int attempts);
    }
}
