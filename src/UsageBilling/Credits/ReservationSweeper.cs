using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace UsageBilling;

/// <summary>
/// Releases reservations that were neither settled nor released before they expired (for example after a crash): those
/// past their stored expiry, and those older than the current <see cref="CreditOptions.ReservationTimeout"/>, so that
/// lowering the timeout also frees holds made under the old one.
/// </summary>
internal sealed partial class ReservationSweeper : BackgroundService
{
    private readonly ICreditStore _store;
    private readonly PendingCompletions _pending;
    private readonly TimeProvider _timeProvider;
    private readonly UsageBillingMetrics _metrics;
    private readonly ILogger<ReservationSweeper> _logger;
    private readonly CreditOptions _options;
    private long _startedTicks;
    private long _lastSweptTicks;

    public ReservationSweeper(ICreditStore store, PendingCompletions pending, TimeProvider timeProvider, UsageBillingMetrics metrics,
        ILogger<ReservationSweeper> logger, IOptions<UsageBillingOptions> options)
    {
        _store = store;
        _pending = pending;
        _timeProvider = timeProvider;
        _metrics = metrics;
        _logger = logger;
        _options = options.Value.Credits;
    }

    /// <summary>
    /// Expires everything due now, batch by batch. Returns how many reservations were released. While this instance
    /// still retries the settle of a completed call, it does not sweep: that call's hold must keep its credit.
    /// </summary>
    public async Task<int> SweepOnceAsync(CancellationToken cancellationToken)
    {
        if (_pending.Count > 0)
        {
            Log.Postponed(_logger, _pending.Count);
            return 0;
        }

        var total = 0;
        int count;
        do
        {
            // The current timeout applies to every hold, also to those made under a longer one before a restart.
            var now = _timeProvider.GetUtcNow();
            using (_metrics.StoreCall("credits.expire"))
            {
                count = await _store.ExpireReservationsAsync(now, now - _options.ReservationTimeout, _options.SweepBatchSize, cancellationToken).ConfigureAwait(false);
            }

            total += count;
        }
        while (count == _options.SweepBatchSize);

        Volatile.Write(ref _lastSweptTicks, _timeProvider.GetUtcNow().UtcTicks);
        if (total > 0)
        {
            _metrics.ReservationsExpired(total);
            Log.Expired(_logger, total);
        }

        return total;
    }

    /// <summary>
    /// How long since this instance's sweeper last finished a sweep (or since it started, before the first); null when it
    /// is not running. A sweep postponed for completions being retried does not count.
    /// </summary>
    internal TimeSpan? Lag
    {
        get
        {
            var started = Volatile.Read(ref _startedTicks);
            return started == 0 ? null : _timeProvider.GetUtcNow() - new DateTimeOffset(Math.Max(started, Volatile.Read(ref _lastSweptTicks)), TimeSpan.Zero);
        }
    }

    /// <summary>The sweep interval.</summary>
    internal TimeSpan Interval => _options.SweepInterval;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        Volatile.Write(ref _startedTicks, _timeProvider.GetUtcNow().UtcTicks);
        // Jitter the first run so that several instances do not sweep in lockstep.
        var jitter = TimeSpan.FromMilliseconds(Random.Shared.Next(0, (int)Math.Max(1, _options.SweepInterval.TotalMilliseconds / 2)));
        try
        {
            await Task.Delay(jitter, _timeProvider, stoppingToken).ConfigureAwait(false);
            using var timer = new PeriodicTimer(_options.SweepInterval, _timeProvider);
            do
            {
                try
                {
                    await SweepOnceAsync(stoppingToken).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    Log.SweepFailed(_logger, ex);
                }
            }
            while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false));
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Information, "Released {Count} expired credit reservations.", EventName = "ReservationsExpired")]
        public static partial void Expired(ILogger logger, int count);

        [LoggerMessage(3, LogLevel.Information, "Sweeping expired reservations is postponed while {Count} completions are being retried.", EventName = "ReservationSweepPostponed")]
        public static partial void Postponed(ILogger logger, int count);

        [LoggerMessage(2, LogLevel.Warning, "Sweeping expired reservations failed; will retry at the next interval.", EventName = "ReservationSweepFailed")]
        public static partial void SweepFailed(ILogger logger, Exception exception);
    }
}
