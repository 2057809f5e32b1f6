namespace UsageBilling;

/// <summary>One limit as it stands after the current request was counted.</summary>
/// <param name="Policy">The policy name used in the IETF headers: <c>second</c>, <c>minute</c>, <c>hour</c>, <c>day</c> or <c>month</c>.</param>
/// <param name="Limit">The most requests the window allows.</param>
/// <param name="Used">Requests counted in the window, this one included.</param>
/// <param name="WindowSeconds">The window's length.</param>
/// <param name="ResetAt">When the window ends.</param>
internal readonly record struct LimitState(string Policy, long Limit, long Used, long WindowSeconds, DateTimeOffset ResetAt)
{
    public long Remaining => Math.Max(0, Limit - Used);

    public bool Exceeded => Used > Limit;
}

/// <summary>The result of counting a request against its key's limits.</summary>
internal sealed class LimitDecision
{
    public static readonly LimitDecision Unlimited = new([], [], null);

    public LimitDecision(IReadOnlyList<LimitState> states, IReadOnlyList<CounterIncrement> increments, LimitState? exceeded)
    {
        States = states;
        Increments = increments;
        Exceeded = exceeded;
    }

    public IReadOnlyList<LimitState> States { get; }

    /// <summary>What was added to the counters, so it can be given back if the request is refused later.</summary>
    public IReadOnlyList<CounterIncrement> Increments { get; }

    public LimitState? Exceeded { get; }

    /// <summary>The same limits as the caller sees them once this request's counts were given back.</summary>
    public LimitDecision GivenBack() => Increments.Count == 0
        ? this
        : new LimitDecision(States.Select(s => s with { Used = s.Used - 1 }).ToList(), [], Exceeded);

    public bool Allowed => Exceeded is null;

    /// <summary>The limit with the least remaining (ties: the one that resets last), which the headers report.</summary>
    public LimitState? Binding
    {
        get
        {
            LimitState? best = null;
            foreach (var state in States)
            {
                if (best is null || state.Remaining < best.Value.Remaining
                    || (state.Remaining == best.Value.Remaining && state.ResetAt > best.Value.ResetAt))
                {
                    best = state;
                }
            }

            return best;
        }
    }
}

/// <summary>
/// Counts requests in fixed UTC-aligned windows through <see cref="IRateLimitCounterStore"/>. A request is counted
/// in every window at once; if any window is over its limit, the counts are given back and the request refused,
/// so a refused request never uses up quota and concurrent requests can never together exceed a limit.
/// </summary>
internal sealed class RequestLimitEnforcer
{
    private readonly IRateLimitCounterStore _counters;

    public RequestLimitEnforcer(IRateLimitCounterStore counters) => _counters = counters;

    public async ValueTask<LimitDecision> AcquireAsync(string keyId, RequestLimits limits, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var windows = Windows(keyId, limits, now);
        if (windows.Count == 0)
        {
            return LimitDecision.Unlimited;
        }

        var increments = new CounterIncrement[windows.Count];
        for (var i = 0; i < windows.Count; i++)
        {
            increments[i] = new CounterIncrement(windows[i].CounterKey, 1, windows[i].ResetAt);
        }

        var values = await _counters.IncrementAsync(increments, cancellationToken).ConfigureAwait(false);
        var states = new LimitState[windows.Count];
        LimitState? exceeded = null;
        for (var i = 0; i < windows.Count; i++)
        {
            var window = windows[i];
            states[i] = new LimitState(window.Policy, window.Limit, values[i], window.Seconds, window.ResetAt);
            if (states[i].Exceeded && (exceeded is null || states[i].ResetAt > exceeded.Value.ResetAt))
            {
                exceeded = states[i];
            }
        }

        if (exceeded is not null)
        {
            await GiveBackAsync(increments, cancellationToken).ConfigureAwait(false);
            // Report what the caller sees after the give-back: the refused request is not counted.
            for (var i = 0; i < states.Length; i++)
            {
                states[i] = states[i] with { Used = states[i].Used - 1 };
            }

            exceeded = exceeded.Value with { Used = exceeded.Value.Used - 1 };
        }

        return new LimitDecision(states, exceeded is null ? increments : [], exceeded);
    }

    /// <summary>Takes a request's counts back out (the request was refused for another reason, for example no credit).</summary>
    public async ValueTask GiveBackAsync(IReadOnlyList<CounterIncrement> increments, CancellationToken cancellationToken)
    {
        if (increments.Count == 0)
        {
            return;
        }

        var reversed = new CounterIncrement[increments.Count];
        for (var i = 0; i < increments.Count; i++)
        {
            reversed[i] = increments[i] with { Delta = -increments[i].Delta };
        }

        await _counters.IncrementAsync(reversed, cancellationToken).ConfigureAwait(false);
    }

    internal static List<Window> Windows(string keyId, RequestLimits limits, DateTimeOffset now)
    {
        var windows = new List<Window>(5);
        var unixSeconds = now.ToUnixTimeSeconds();
        AddFixed(windows, keyId, "second", "s", limits.RequestsPerSecond, 1, unixSeconds);
        AddFixed(windows, keyId, "minute", "m", limits.RequestsPerMinute, 60, unixSeconds);
        AddFixed(windows, keyId, "hour", "h", limits.RequestsPerHour, 3600, unixSeconds);
        AddFixed(windows, keyId, "day", "d", limits.RequestsPerDay, 86_400, unixSeconds);
        if (limits.MonthlyRequests is { } monthly)
        {
            var utc = now.UtcDateTime;
            var start = new DateTimeOffset(utc.Year, utc.Month, 1, 0, 0, 0, TimeSpan.Zero);
            var end = start.AddMonths(1);
            var seconds = (long)(end - start).TotalSeconds;
            windows.Add(new Window("month", $"{keyId}:mo:{utc.Year:D4}{utc.Month:D2}", monthly, seconds, end));
        }

        return windows;
    }

    private static void AddFixed(List<Window> windows, string keyId, string policy, string code, long? limit, long seconds, long unixSeconds)
    {
        if (limit is not { } value)
        {
            return;
        }

        var number = unixSeconds / seconds;
        windows.Add(new Window(policy, $"{keyId}:{code}:{number}", value, seconds, DateTimeOffset.FromUnixTimeSeconds((number + 1) * seconds)));
    }

    internal readonly record struct Window(string Policy, string CounterKey, long Limit, long Seconds, DateTimeOffset ResetAt);
}
