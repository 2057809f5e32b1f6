using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;

namespace UsageBilling;

/// <summary>
/// Reports whether metered calls can be billed: the credit, counter, API-key and account stores answer (Unhealthy when
/// not: metered calls get 401 or 503), the usage log keeps up (Degraded when its queue is more than 80 % full, or when
/// the store refused a record — dead-lettered — within the last <see cref="DeadLetterWindow"/>), no completion is
/// waiting for a store (Degraded while settles or releases are being retried), and the reservation sweeper keeps up
/// (Degraded when it has not finished a sweep for <see cref="SweeperLagIntervals"/> sweep intervals).
/// </summary>
internal sealed class UsageBillingHealthCheck : IHealthCheck
{
    private const string ProbeId = "usagebilling-health-probe";

    /// <summary>How long a dead-lettered usage record keeps the check Degraded.</summary>
    internal static readonly TimeSpan DeadLetterWindow = TimeSpan.FromHours(1);

    /// <summary>How many sweep intervals without a finished sweep make the check Degraded.</summary>
    internal const int SweeperLagIntervals = 3;

    private readonly CreditManager _credits;
    private readonly ICounterStore _counters;
    private readonly IApiKeyStore _keys;
    private readonly IAccountStore _accounts;
    private readonly ReservationSweeper _sweeper;
    private readonly UsageLogQueue _usageLog;
    private readonly PendingCompletions _pending;
    private readonly IOptionsMonitor<UsageBillingOptions> _options;
    private readonly UsageDeadLetters _deadLetters;
    private readonly TimeProvider _timeProvider;

    public UsageBillingHealthCheck(CreditManager credits, ICounterStore counters, IApiKeyStore keys, IAccountStore accounts, ReservationSweeper sweeper,
        UsageLogQueue usageLog, PendingCompletions pending, IOptionsMonitor<UsageBillingOptions> options, UsageDeadLetters deadLetters, TimeProvider timeProvider)
    {
        _keys = keys;
        _accounts = accounts;
        _sweeper = sweeper;
        _deadLetters = deadLetters;
        _timeProvider = timeProvider;
        _credits = credits;
        _counters = counters;
        _usageLog = usageLog;
        _pending = pending;
        _options = options;
    }

    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var backlog = _usageLog.Reader.CanCount ? _usageLog.Reader.Count : 0;
        var capacity = _options.CurrentValue.UsageLog.QueueCapacity;
        var data = new Dictionary<string, object>
        {
            ["usageLogBacklog"] = backlog,
            ["usageLogCapacity"] = capacity,
            ["pendingCompletions"] = _pending.Count,
            ["usageDeadLetters"] = _deadLetters.Total,
        };
        var sweeperLag = _sweeper.Lag;
        if (sweeperLag is { } lag)
        {
            data["sweeperLagSeconds"] = Math.Round(lag.TotalSeconds, 1);
        }

        try
        {
            await _credits.GetBalanceAsync(ProbeId, cancellationToken).ConfigureAwait(false);
            await _counters.GetAsync([ProbeId], cancellationToken).ConfigureAwait(false);
            await _keys.FindByIdAsync(ProbeId, cancellationToken).ConfigureAwait(false);
            await _accounts.FindAsync(ProbeId, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
        {
            return HealthCheckResult.Unhealthy("A billing store does not answer; metered calls are answered 503.", ex, data);
        }

        if (_pending.Count > 0)
        {
            return HealthCheckResult.Degraded($"{_pending.Count} completions (settles, releases, counter corrections) are waiting for a store.", data: data);
        }

        var lastDeadLetter = _deadLetters.Snapshot() is { Count: > 0 } letters ? letters[^1].DeadLetteredAt : (DateTimeOffset?)null;
        if (lastDeadLetter is { } at && _timeProvider.GetUtcNow() - at < DeadLetterWindow)
        {
            return HealthCheckResult.Degraded($"The usage store refused a record at {at:O} ({_deadLetters.Total} dead-lettered since start); see the dead-letter log.", data: data);
        }

        if (backlog * 5L > capacity * 4L)
        {
            return HealthCheckResult.Degraded($"The usage log's queue is {backlog} of {capacity} records full.", data: data);
        }

        return sweeperLag > _sweeper.Interval * SweeperLagIntervals
            ? HealthCheckResult.Degraded($"The reservation sweeper has not finished a sweep for {sweeperLag.Value.TotalSeconds:F0} s (interval {_sweeper.Interval.TotalSeconds:F0} s): expired holds are not being released.", data: data)
            : HealthCheckResult.Healthy("Billing stores answer, the usage log and the reservation sweeper keep up.", data);
    }
}
