namespace UsageBilling;

/// <summary>
/// What one call counted: every limit window (requests and tokens) and every budget period (spend), taken in ONE
/// <see cref="ICounterStore.IncrementAsync"/> call, so that a call is counted everywhere or nowhere.
/// </summary>
internal sealed class CallCounts
{
    public static readonly CallCounts None = new(LimitDecision.Unlimited, BudgetDecision.None, []);

    public CallCounts(LimitDecision limits, BudgetDecision budgets, IReadOnlyList<CounterIncrement> increments)
    {
        Limits = limits;
        Budgets = budgets;
        Increments = increments;
    }

    /// <summary>The limit windows as they stand, for the rate-limit headers.</summary>
    public LimitDecision Limits { get; }

    /// <summary>The budget periods as they stand.</summary>
    public BudgetDecision Budgets { get; }

    /// <summary>Everything that was added to the counters (empty once given back).</summary>
    public IReadOnlyList<CounterIncrement> Increments { get; }

    public bool Allowed => Limits.Allowed && Budgets.Allowed;

    /// <summary>The counts as a refused caller sees them: given back, with the exceeded window or period as it stands without this call.</summary>
    public CallCounts Refused() => new(Limits.Allowed ? Limits.GivenBack() : Limits.Refused(), new BudgetDecision([], Budgets.Exceeded), []);

    /// <summary>The increments that take every count of this call back out.</summary>
    public CounterIncrement[] GiveBack() => Negated(Increments);

    /// <summary>The increments that undo <paramref name="increments"/>.</summary>
    public static CounterIncrement[] Negated(IReadOnlyList<CounterIncrement> increments) => increments.Select(static i => i with { Delta = -i.Delta }).ToArray();

    /// <summary>
    /// The increments that turn what was counted before the call into what it actually used: budget spend from the
    /// hold to <paramref name="charged"/>, the token estimate to <paramref name="actualTokens"/> (when known). Request
    /// counts stay: the call was served.
    /// </summary>
    public List<CounterIncrement> Corrections(Money charged, long? actualTokens)
    {
        var corrections = new List<CounterIncrement>(Budgets.States.Count + 1);
        if (actualTokens is { } tokens && Limits.TokenIncrement is { } counted && tokens != counted.Delta)
        {
            corrections.Add(counted with { Delta = tokens - counted.Delta });
        }

        foreach (var budget in Budgets.States)
        {
            if (charged.Nanos != budget.Counter.Delta)
            {
                corrections.Add(budget.Counter with { Delta = charged.Nanos - budget.Counter.Delta });
            }
        }

        return corrections;
    }

    /// <summary>The budget periods after <paramref name="corrections"/> moved their counters to <paramref name="values"/>.</summary>
    public IReadOnlyList<BudgetState> BudgetsAfter(IReadOnlyList<CounterIncrement> corrections, IReadOnlyList<long> values)
    {
        if (Budgets.States.Count == 0)
        {
            return [];
        }

        var result = new List<BudgetState>(Budgets.States.Count);
        foreach (var budget in Budgets.States)
        {
            var index = IndexOf(corrections, budget.Counter.Key);
            result.Add(index < 0 ? budget : budget with { Spent = new Money(values[index]) });
        }

        return result;
    }

    private static int IndexOf(IReadOnlyList<CounterIncrement> increments, string key)
    {
        for (var i = 0; i < increments.Count; i++)
        {
            if (string.Equals(increments[i].Key, key, StringComparison.Ordinal))
            {
                return i;
            }
        }

        return -1;
    }
}

/// <summary>Counts a call against its key's limit windows and its account's and key's budgets, in one counter-store call.</summary>
internal sealed class CallCounters
{
    /// <summary>The most calls' give-backs written in one store call.</summary>
    internal const int MaxBatch = 256;

    private readonly ICounterStore _store;
    private readonly GroupCalls<IReadOnlyList<CounterIncrement>, long[]>? _groups;

    /// <param name="store">The counter store; its calls are timed where it is registered (<see cref="ObservedStores"/>).</param>
    public CallCounters(ICounterStore store)
    {
        _store = store;

        // The in-memory store answers at once: grouping would only hand each write to another thread.
        _groups = store is InMemoryRateLimitCounterStore or IObservedStore { Inner: InMemoryRateLimitCounterStore }
            ? null
            : new GroupCalls<IReadOnlyList<CounterIncrement>, long[]>(MaxBatch, WriteAsync);
    }

    /// <summary>
    /// Adds the call to every window and period at once. When any is over its limit the result is not
    /// <see cref="CallCounts.Allowed"/>, and the caller gives the counts back (<see cref="CallCounts.GiveBack"/>).
    /// </summary>
    public async ValueTask<CallCounts> AcquireAsync(IApiKeyFeature caller, RequestLimits limits, long tokens, Money amount, DateTimeOffset now, CancellationToken cancellationToken)
        => Plan(caller, limits, tokens, amount, now) is { } plan
            ? plan.Evaluate(await ApplyAsync(plan.Increments, cancellationToken).ConfigureAwait(false))
            : CallCounts.None;

    /// <summary>What the call adds to its windows and periods, and how to judge the counts; null when it has none.</summary>
    public static CallCountPlan? Plan(IApiKeyFeature caller, RequestLimits limits, long tokens, Money amount, DateTimeOffset now)
    {
        var windows = LimitWindows.ForCall(caller.Key.Id, limits, now, tokens);
        var periods = BudgetPeriods.ForCall(caller.Account, caller.Key, now);
        return windows.Count == 0 && periods.Length == 0 ? null : new CallCountPlan(windows, periods, amount);
    }

    /// <summary>Applies increments now, alone (a call's counts, whose values decide it); returns the new values in the same order.</summary>
    public ValueTask<long[]> ApplyAsync(IReadOnlyList<CounterIncrement> increments, CancellationToken cancellationToken)
        => increments.Count == 0 ? ValueTask.FromResult(Array.Empty<long>())
            : _store.IncrementAsync(increments, cancellationToken);

    /// <summary>
    /// Applies the give-backs of an abandoned call whose hold is not released with them (expired, or its answer lost),
    /// whose values decide nothing — corrections and the other give-backs ride the call's completion
    /// (<see cref="CallCompletion.Counts"/>): with the other calls' queued now, in one store call
    /// (group commit, one transaction on a database) unless the store is in memory. A key several calls name moves
    /// once by the sum of their deltas, and each reads its value after the whole group. Nothing cancels a group: a
    /// caller that stops waiting leaves its increments written with the others. The task fails with the group's
    /// exception; the caller retries its own increments.
    /// </summary>
    public ValueTask<long[]> ApplyGroupedAsync(IReadOnlyList<CounterIncrement> increments, CancellationToken cancellationToken)
    {
        return increments.Count == 0 || _groups is null
            ? ApplyAsync(increments, cancellationToken)
            : new ValueTask<long[]>(_groups.CallAsync(increments).WaitAsync(cancellationToken));
    }

    /// <summary>One store call for the group's increments; each caller's values are its slice of the answer.</summary>
    private async Task<IReadOnlyList<long[]>> WriteAsync(IReadOnlyList<CounterIncrement>[] group)
    {
        var increments = group.Length == 1 ? group[0] : [.. group.SelectMany(static g => g)];
        var values = await _store.IncrementAsync(increments, CancellationToken.None).ConfigureAwait(false);
        if (values.Length != increments.Count)
        {
            throw new InvalidOperationException($"{_store.GetType().Name} returned {values.Length} values for {increments.Count} increments.");
        }

        var slices = new long[group.Length][];
        var offset = 0;
        for (var i = 0; i < group.Length; i++)
        {
            slices[i] = values[offset..(offset + group[i].Count)];
            offset += group[i].Count;
        }

        return slices;
    }
}

/// <summary>The increments of one call (limit windows first, then budget periods) and how to judge their values.</summary>
internal sealed class CallCountPlan
{
    private readonly CallWindows _windows;
    private readonly IReadOnlyList<(string Name, Money Cap, string CounterKey, DateTimeOffset ResetAt)> _periods;
    private readonly Money _amount;

    public CallCountPlan(CallWindows windows, IReadOnlyList<(string Name, Money Cap, string CounterKey, DateTimeOffset ResetAt)> periods, Money amount)
    {
        _windows = windows;
        _periods = periods;
        _amount = amount;
        if (periods.Count == 0 && windows.Token is null)
        {
            // A call of the key's request windows alone counts with their shared increments.
            Increments = windows.RequestIncrements;
            return;
        }

        var increments = new CounterIncrement[windows.Count + periods.Count];
        windows.CopyIncrementsTo(increments);
        BudgetPeriods.WriteIncrements(periods, amount, increments.AsSpan(windows.Count));
        Increments = increments;
    }

    /// <summary>Every increment of the call, in one list: the windows', then the budget periods'.</summary>
    public CounterIncrement[] Increments { get; }

    /// <summary>
    /// Whether a call whose <see cref="Increments"/> moved the counters to <paramref name="values"/> is within every
    /// window and period: <see cref="Evaluate"/>'s <see cref="CallCounts.Allowed"/>, without building the counts (a
    /// group admission asks it of every call before it keeps any).
    /// </summary>
    public bool Allows(IReadOnlyList<long> values)
    {
        var windows = _windows.Count;
        for (var i = 0; i < windows; i++)
        {
            if (values[i] > _windows[i].Limit)
            {
                return false;
            }
        }

        for (var i = 0; i < _periods.Count; i++)
        {
            if (values[windows + i] > _periods[i].Cap.Nanos)
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>The counts once <see cref="Increments"/> moved the counters to <paramref name="values"/> (same order).</summary>
    public CallCounts Evaluate(IReadOnlyList<long> values)
    {
        var array = values as long[] ?? [.. values];
        var windows = _windows.Count;
        var limitDecision = windows == 0 ? LimitDecision.Unlimited
            : LimitWindows.Evaluate(_windows, _periods.Count == 0 ? Increments : new ArraySegment<CounterIncrement>(Increments, 0, windows), array);
        var budgetDecision = _periods.Count == 0 ? BudgetDecision.None
            : BudgetPeriods.Evaluate(_periods, new ArraySegment<CounterIncrement>(Increments, windows, _periods.Count), new ArraySegment<long>(array, windows, _periods.Count), _amount);
        return new CallCounts(limitDecision, budgetDecision, Increments);
    }
}
