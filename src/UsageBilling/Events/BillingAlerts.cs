using System.Globalization;
using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.Options;

namespace UsageBilling;

/// <summary>
/// Decides which thresholds a settled call crossed and raises each event once per threshold per period: the first
/// caller to move the event's counter from 0 to 1 raises it, so concurrent calls and several instances agree. An
/// instance that has seen an event's counter moved (by itself or another) remembers it until the period ends, so that
/// the calls after a threshold was crossed — every call of an account past 80 % of its budget, say — write nothing.
/// </summary>
internal sealed class BillingAlerts : IDisposable
{
    /// <summary>The most raised events remembered; past it the least recently used tenth is forgotten (and asked about again).</summary>
    internal const int MaxRemembered = 100_000;

    private readonly ICounterStore _counters;
    private readonly MemoryCache _raised = new(new MemoryCacheOptions { SizeLimit = MaxRemembered, CompactionPercentage = 0.1 });
    private readonly BillingEventDispatcher _dispatcher;
    private readonly IOptionsMonitor<UsageBillingOptions> _options;
    private readonly TimeProvider _timeProvider;

    public BillingAlerts(ICounterStore counters, BillingEventDispatcher dispatcher, IOptionsMonitor<UsageBillingOptions> options, TimeProvider timeProvider)
    {
        _counters = counters;
        _dispatcher = dispatcher;
        _options = options;
        _timeProvider = timeProvider;
    }

    public async ValueTask CheckBudgetsAsync(string accountId, string keyId, IReadOnlyList<BudgetState> budgets, CancellationToken cancellationToken)
    {
        if (budgets.Count == 0)
        {
            return;
        }

        var thresholds = _options.CurrentValue.Alerts.EffectiveThresholds;
        foreach (var budget in budgets)
        {
            foreach (var threshold in thresholds)
            {
                // spent / cap >= threshold %, in integers: spent × 100 >= cap × threshold.
                if ((Int128)budget.Spent.Nanos * 100 < (Int128)budget.Cap.Nanos * threshold)
                {
                    break;
                }

                var counter = string.Create(CultureInfo.InvariantCulture, $"alert:{budget.Counter.Key}:{threshold}");
                if (await FirstAsync(counter, budget.ResetAt, cancellationToken).ConfigureAwait(false))
                {
                    _dispatcher.Raise(new BillingEvent
                    {
                        Id = BillingIds.New("evt", _timeProvider),
                        Type = BillingEventTypes.BudgetThreshold,
                        OccurredAt = _timeProvider.GetUtcNow(),
                        AccountId = accountId,
                        KeyId = budget.Name.StartsWith("key.", StringComparison.Ordinal) ? keyId : null,
                        Budget = budget.Name,
                        ThresholdPercent = threshold,
                        Cap = budget.Cap,
                        Spent = budget.Spent,
                        PeriodEndsAt = budget.ResetAt,
                    });
                }
            }
        }
    }

    public async ValueTask CheckBalanceAsync(string accountId, CreditBalance balance, CancellationToken cancellationToken)
    {
        if (_options.CurrentValue.Alerts.LowBalance is not { } threshold || balance.Available >= threshold)
        {
            return;
        }

        var now = _timeProvider.GetUtcNow();
        if (await FirstAsync(LowBalanceCounter(accountId, now), MonthEnd(now), cancellationToken).ConfigureAwait(false))
        {
            _dispatcher.Raise(new BillingEvent
            {
                Id = BillingIds.New("evt", _timeProvider),
                Type = BillingEventTypes.LowBalance,
                OccurredAt = now,
                AccountId = accountId,
                Available = balance.Available,
                Cap = threshold,
            });
        }
    }

    /// <summary>Whether the account's low-balance event of this month is known raised here: then its balance need not be read to check it.</summary>
    public bool LowBalanceRaised(string accountId) => _raised.TryGetValue(LowBalanceCounter(accountId, _timeProvider.GetUtcNow()), out _);

    public void Dispose() => _raised.Dispose();

    private static string LowBalanceCounter(string accountId, DateTimeOffset now)
        => string.Create(CultureInfo.InvariantCulture, $"alert:low-balance:{accountId}:{now.Year:D4}{now.Month:D2}");

    private static DateTimeOffset MonthEnd(DateTimeOffset now) => new DateTimeOffset(now.Year, now.Month, 1, 0, 0, 0, TimeSpan.Zero).AddMonths(1);

    /// <summary>Whether this caller moved the event's counter from 0 to 1 (raises it); false without a store call once the event is known raised.</summary>
    private async ValueTask<bool> FirstAsync(string counter, DateTimeOffset expiresAt, CancellationToken cancellationToken)
    {
        if (_raised.TryGetValue(counter, out _))
        {
            return false;
        }

        var first = (await _counters.IncrementAsync([new CounterIncrement(counter, 1, expiresAt)], cancellationToken).ConfigureAwait(false))[0] == 1;
        var remaining = expiresAt - _timeProvider.GetUtcNow();
        if (remaining > TimeSpan.Zero)
        {
            _raised.Set(counter, true, new MemoryCacheEntryOptions { Size = 1, AbsoluteExpirationRelativeToNow = remaining });
        }

        return first;
    }
}
