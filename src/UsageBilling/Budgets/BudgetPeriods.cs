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
/// The periods of <see cref="SpendBudget"/> caps (UTC calendar days, ISO weeks and months) and what their spend
/// counters say. <see cref="CallCounters"/> adds a call's hold to every period of the account's and the key's budgets
/// together with its limit windows; if any goes over its cap the counts are given back and the call refused, so
/// concurrent calls never together overspend. When the call completes the hold is replaced by what was charged.
/// </summary>
internal static class BudgetPeriods
{
    private static readonly KeptValues<KeptPeriods> Kept = new(1024);

    /// <summary>
    /// <see cref="Periods"/> for a call: every call of a key on one UTC day counts in the same periods, so they are made
    /// once per account, key, budgets and day and kept in a small fixed table (the most recent per slot, compared in
    /// full before use: ids, budgets by value and day). Shared, so never changed by their users.
    /// </summary>
    internal static (string Name, Money Cap, string CounterKey, DateTimeOffset ResetAt)[] ForCall(BillingAccount account, ApiKeyRecord key, DateTimeOffset now)
    {
        if (account.Budget is null && key.Budget is null)
        {
            return [];
        }

        // Every period (day, ISO week, calendar month) is a function of the UTC day.
        var day = now.ToUnixTimeSeconds() / 86_400;
        return Kept.Get(
            HashCode.Combine(account.Id, key.Id, day),
            (Account: account, Key: key, Now: now, Day: day),
            static (kept, call) => kept.Describes(call.Account, call.Key, call.Day),
            static call => new KeptPeriods(call.Account.Id, call.Account.Budget, call.Key.Id, call.Key.Budget, call.Day,
                [.. Periods(call.Account, call.Key, call.Now)])).Periods;
    }

    /// <summary>Every budget period of the account and the key that a call at <paramref name="now"/> counts in.</summary>
    internal static List<(string Name, Money Cap, string CounterKey, DateTimeOffset ResetAt)> Periods(BillingAccount account, ApiKeyRecord key, DateTimeOffset now)
    {
        var periods = new List<(string Name, Money Cap, string CounterKey, DateTimeOffset ResetAt)>();
        AddPeriods(periods, "account", account.Id, account.Budget, now);
        AddPeriods(periods, "key", key.Id, key.Budget, now);
        return periods;
    }

    /// <summary>Writes what a call of <paramref name="amount"/> adds to each of <paramref name="periods"/>, in order, to the start of <paramref name="destination"/>.</summary>
    internal static void WriteIncrements(IReadOnlyList<(string Name, Money Cap, string CounterKey, DateTimeOffset ResetAt)> periods, Money amount,
        Span<CounterIncrement> destination)
    {
        for (var i = 0; i < periods.Count; i++)
        {
            destination[i] = new CounterIncrement(periods[i].CounterKey, amount.Nanos, periods[i].ResetAt);
        }
    }

    /// <summary>
    /// The periods as they stand after their counters became <paramref name="values"/>; when one is over its cap,
    /// <see cref="BudgetDecision.Exceeded"/> names it as it stood without this call.
    /// </summary>
    internal static BudgetDecision Evaluate(IReadOnlyList<(string Name, Money Cap, string CounterKey, DateTimeOffset ResetAt)> periods, IReadOnlyList<CounterIncrement> increments,
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

    /// <summary>Periods made for an account's and a key's budgets on one UTC day.</summary>
    private sealed record KeptPeriods(string AccountId, SpendBudget? AccountBudget, string KeyId, SpendBudget? KeyBudget, long Day,
        (string Name, Money Cap, string CounterKey, DateTimeOffset ResetAt)[] Periods)
    {
        public bool Describes(BillingAccount account, ApiKeyRecord key, long day)
            => Day == day && string.Equals(AccountId, account.Id, StringComparison.Ordinal) && string.Equals(KeyId, key.Id, StringComparison.Ordinal)
                && Equals(AccountBudget, account.Budget) && Equals(KeyBudget, key.Budget);
    }
}
