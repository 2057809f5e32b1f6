using System.Globalization;

namespace UsageBilling;

/// <summary>One spend cap as it stands after the current call was counted.</summary>
/// <param name="Name">The budget's name as callers see it, for example <c>account.monthly</c> or <c>key.daily</c>.</param>
/// <param name="Cap">The cap.</param>
/// <param name="Spent">What the period has counted, this call's hold included.</param>
/// <param name="ResetAt">When the period ends.</param>
/// <param name="Counter">The counter the spend is kept in.</param>
internal readonly record struct BudgetState(string Name, Money Cap, Money Spent, DateTimeOffset ResetAt, CounterIncrement Counter)
{
    public bool Exceeded => Spent > Cap;
}

/// <summary>The budgets a call counted against.</summary>
internal sealed class BudgetDecision
{
    public static readonly BudgetDecision None = new([], null);

    public BudgetDecision(IReadOnlyList<BudgetState> states, BudgetState? exceeded)
    {
        States = states;
        Exceeded = exceeded;
    }

    public IReadOnlyList<BudgetState> States { get; }

    public BudgetState? Exceeded { get; }

    public bool Allowed => Exceeded is null;
}

/// <summary>
/// Enforces <see cref="SpendBudget"/> caps at reserve time. A call's hold is added to the spend counter of every
/// period of the account's and the key's budgets at once (periods are UTC calendar days, ISO weeks and months); if
/// any goes over its cap the counts are given back and the call refused, so concurrent calls can never together
/// overspend. When the call settles the hold is replaced by what was actually charged.
/// </summary>
internal sealed class BudgetEnforcer
{
    private readonly IRateLimitCounterStore _counters;

    public BudgetEnforcer(IRateLimitCounterStore counters) => _counters = counters;

    public async ValueTask<BudgetDecision> AcquireAsync(BillingAccount account, ApiKeyRecord key, Money amount, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var periods = Periods(account, key, now);
        if (periods.Count == 0)
        {
            return BudgetDecision.None;
        }

        var increments = Increments(periods, amount);
        var decision = Evaluate(periods, increments, await _counters.IncrementAsync(increments, cancellationToken).ConfigureAwait(false), amount);
        if (decision.Exceeded is not null)
        {
            await CorrectAsync(decision.States, Money.Zero, cancellationToken).ConfigureAwait(false);
            return new BudgetDecision([], decision.Exceeded);
        }

        return decision;
    }

    /// <summary>Every budget period of the account and the key that a call at <paramref name="now"/> counts in.</summary>
    internal static List<(string Name, Money Cap, string CounterKey, DateTimeOffset ResetAt)> Periods(BillingAccount account, ApiKeyRecord key, DateTimeOffset now)
    {
        var periods = new List<(string Name, Money Cap, string CounterKey, DateTimeOffset ResetAt)>();
        AddPeriods(periods, "account", account.Id, account.Budget, now);
        AddPeriods(periods, "key", key.Id, key.Budget, now);
        return periods;
    }

    internal static CounterIncrement[] Increments(List<(string Name, Money Cap, string CounterKey, DateTimeOffset ResetAt)> periods, Money amount)
        => periods.Select(p => new CounterIncrement(p.CounterKey, amount.Nanos, p.ResetAt)).ToArray();

    /// <summary>
    /// The periods as they stand after their counters became <paramref name="values"/>; when one is over its cap,
    /// <see cref="BudgetDecision.Exceeded"/> names it as it stood without this call.
    /// </summary>
    internal static BudgetDecision Evaluate(List<(string Name, Money Cap, string CounterKey, DateTimeOffset ResetAt)> periods, IReadOnlyList<CounterIncrement> increments,
        IReadOnlyList<long> values, Money amount)
    {
        var states = new BudgetState[periods.Count];
        BudgetState? exceeded = null;
        for (var i = 0; i < periods.Count; i++)
        {
            var (name, cap, _, resetAt) = periods[i];
            states[i] = new BudgetState(name, cap, new Money(values[i]), resetAt, increments[i]);
            if (exceeded is null && states[i].Exceeded)
            {
                exceeded = states[i] with { Spent = states[i].Spent - amount };
            }
        }

        return new BudgetDecision(states, exceeded);
    }

    /// <summary>
    /// Adds spend that was charged without a reservation (usage reported by another gateway) to the account's budget
    /// periods, so that its next metered calls see it; returns the states for alerting.
    /// </summary>
    public async ValueTask<IReadOnlyList<BudgetState>> AddSpendAsync(BillingAccount account, Money charged, DateTimeOffset at, CancellationToken cancellationToken)
    {
        var periods = new List<(string Name, Money Cap, string CounterKey, DateTimeOffset ResetAt)>();
        AddPeriods(periods, "account", account.Id, account.Budget, at);
        if (periods.Count == 0 || charged.IsZero)
        {
            return [];
        }

        return await CountAsync(periods, charged, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Adds <paramref name="amount"/> to every period's spend counter at once and returns the periods as they stand.</summary>
    private async ValueTask<IReadOnlyList<BudgetState>> CountAsync(List<(string Name, Money Cap, string CounterKey, DateTimeOffset ResetAt)> periods, Money amount,
        CancellationToken cancellationToken)
    {
        var increments = periods.Select(p => new CounterIncrement(p.CounterKey, amount.Nanos, p.ResetAt)).ToArray();
        var values = await _counters.IncrementAsync(increments, cancellationToken).ConfigureAwait(false);
        return periods.Select((p, i) => new BudgetState(p.Name, p.Cap, new Money(values[i]), p.ResetAt, increments[i])).ToList();
    }

    /// <summary>Replaces the counted hold with what was charged (zero for a refused or released call); returns the corrected states.</summary>
    public async ValueTask<IReadOnlyList<BudgetState>> CorrectAsync(IReadOnlyList<BudgetState> states, Money charged, CancellationToken cancellationToken)
    {
        if (states.Count == 0)
        {
            return states;
        }

        var corrections = states.Select(s => s.Counter with { Delta = charged.Nanos - s.Counter.Delta }).ToArray();
        if (corrections[0].Delta == 0)
        {
            return states;
        }

        var values = await _counters.IncrementAsync(corrections, cancellationToken).ConfigureAwait(false);
        return states.Select((s, i) => s with { Spent = new Money(values[i]) }).ToList();
    }

    internal static void AddPeriods(List<(string Name, Money Cap, string CounterKey, DateTimeOffset ResetAt)> periods, string scope, string id, SpendBudget? budget, DateTimeOffset now)
    {
        if (budget is null)
        {
            return;
        }

        var utc = now.ToUniversalTime();
        var day = utc.ToUnixTimeSeconds() / 86_400;
        if (budget.Daily is { } daily)
        {
            periods.Add(($"{scope}.daily", daily, $"spend:{scope}:{id}:d:{day}", DateTimeOffset.FromUnixTimeSeconds((day + 1) * 86_400)));
        }

        if (budget.Weekly is { } weekly)
        {
            // 1970-01-01 was a Thursday: shifting by 3 days makes weeks start on Mondays (ISO 8601).
            var week = (day + 3) / 7;
            periods.Add(($"{scope}.weekly", weekly, $"spend:{scope}:{id}:w:{week}", DateTimeOffset.FromUnixTimeSeconds(((week + 1) * 7 - 3) * 86_400)));
        }

        if (budget.Monthly is { } monthly)
        {
            var start = new DateTimeOffset(utc.Year, utc.Month, 1, 0, 0, 0, TimeSpan.Zero);
            periods.Add(($"{scope}.monthly", monthly, string.Create(CultureInfo.InvariantCulture, $"spend:{scope}:{id}:m:{utc.Year:D4}{utc.Month:D2}"), start.AddMonths(1)));
        }
    }
}
