namespace UsageBilling;

/// <summary>One limit as it stands after the current request was counted.</summary>
/// <param name="Policy">The policy name used in the IETF headers: <c>second</c>, <c>minute</c>, <c>hour</c>, <c>day</c>, <c>month</c> or <c>tokens-minute</c>.</param>
/// <param name="Limit">The most the window allows.</param>
/// <param name="Used">What the window has counted, this request included.</param>
/// <param name="WindowSeconds">The window's length.</param>
/// <param name="ResetAt">When the window ends.</param>
/// <param name="Delta">What this request added (1 for a request window, its token estimate for the token window).</param>
/// <param name="IsTokens">Whether the window counts LLM tokens rather than requests.</param>
internal readonly record struct LimitState(string Policy, long Limit, long Used, long WindowSeconds, DateTimeOffset ResetAt, long Delta = 1, bool IsTokens = false)
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

    public bool Allowed => Exceeded is null;

    /// <summary>The request limit with the least remaining (ties: the one that resets last), which <c>X-RateLimit-*</c> report.</summary>
    public LimitState? Binding => Tightest(isTokens: false);

    /// <summary>The token limit, which <c>X-RateLimit-*-Tokens</c> report.</summary>
    public LimitState? TokenBinding => Tightest(isTokens: true);

    /// <summary>The counter increment of the token window, if this request counted tokens.</summary>
    public CounterIncrement? TokenIncrement => Increments.Count > 0 && States.Count == Increments.Count && States[^1].IsTokens ? Increments[^1] : null;

    /// <summary>The refusal as the caller sees it: the counts were given back, and the exceeded window without this request.</summary>
    public LimitDecision Refused()
    {
        var givenBack = GivenBack();
        return new LimitDecision(givenBack.States, [], Exceeded is { } over ? over with { Used = over.Used - over.Delta } : null);
    }

    /// <summary>The same limits as the caller sees them once this request's counts were given back.</summary>
    public LimitDecision GivenBack() => Increments.Count == 0
        ? this
        : new LimitDecision(States.Select(s => s with { Used = s.Used - s.Delta }).ToList(), [], Exceeded);

    private LimitState? Tightest(bool isTokens)
    {
        LimitState? best = null;
        for (var i = 0; i < States.Count; i++)
        {
            var state = States[i];
            if (state.IsTokens != isTokens)
            {
                continue;
            }

            if (best is null || state.Remaining < best.Value.Remaining
                || (state.Remaining == best.Value.Remaining && state.ResetAt > best.Value.ResetAt))
            {
                best = state;
            }
        }

        return best;
    }
}

/// <summary>
/// The fixed UTC-aligned windows a request (and its LLM tokens) counts in, and what their counters say. The counting
/// itself is <see cref="CallCounters"/>: every window and budget period in one counter-store call, given back at once
/// when any is over, so a refused request never uses up quota and concurrent requests never together exceed a limit.
/// </summary>
internal static class LimitWindows
{
    private static readonly KeptValues<CallWindows> Kept = new(1024);

    /// <summary>
    /// The windows a call of <paramref name="keyId"/> counts in at <paramref name="now"/>, and their increments. Every
    /// call of a key in one second counts in the same request windows, so those are made once per key and second and
    /// kept in a small fixed table (the most recent per slot, compared in full before use; shared, so never changed by
    /// their users). A call that counts tokens gets its own, which shares them and holds its token window after them.
    /// </summary>
    internal static CallWindows ForCall(string keyId, RequestLimits limits, DateTimeOffset now, long tokens)
    {
        var requests = RequestWindows(keyId, limits, now);
        return tokens > 0 && limits.TokensPerMinute is { } tokenLimit
            ? requests.With(TokenWindow(keyId, tokenLimit, now.ToUnixTimeSeconds(), tokens))
            : requests;
    }

    /// <summary>The request windows of a call of <paramref name="keyId"/> at <paramref name="now"/>: kept per key and second.</summary>
    private static CallWindows RequestWindows(string keyId, RequestLimits limits, DateTimeOffset now)
    {
        var second = now.ToUnixTimeSeconds();
        return Kept.Get(
            HashCode.Combine(keyId, second),
            (KeyId: keyId, Limits: limits, Now: now, Second: second),
            static (kept, call) => kept.Matches(call.KeyId, call.Limits, call.Second),
            static call => new CallWindows(call.KeyId, call.Limits, call.Second, Windows(call.KeyId, call.Limits, call.Now)));
    }

    /// <summary>The counter increments of <paramref name="windows"/>, in the same order.</summary>
    internal static CounterIncrement[] Increments(Window[] windows)
    {
        var increments = new CounterIncrement[windows.Length];
        for (var i = 0; i < windows.Length; i++)
        {
            increments[i] = windows[i].Increment;
        }

        return increments;
    }

    /// <summary>The limits as they stand after the counters of <paramref name="windows"/> became <paramref name="values"/> (the first ones, in order).</summary>
    internal static LimitDecision Evaluate(CallWindows windows, IReadOnlyList<CounterIncrement> increments, IReadOnlyList<long> values)
    {
        var states = new CountedWindows(windows, values);
        LimitState? exceeded = null;
        for (var i = 0; i < states.Count; i++)
        {
            var state = states[i];
            if (state.Exceeded && (exceeded is null || state.ResetAt > exceeded.Value.ResetAt))
            {
                exceeded = state;
            }
        }

        return new LimitDecision(states, increments, exceeded);
    }

    /// <summary>
    /// A call's limit states, made from its (shared) windows and its counters' values when read: a call keeps the
    /// values, not an array of states. The values are copied, so a store may reuse what it returned.
    /// </summary>
    private sealed class CountedWindows : IReadOnlyList<LimitState>
    {
        private readonly CallWindows _windows;
        private readonly long[] _used;

        public CountedWindows(CallWindows windows, IReadOnlyList<long> values)
        {
            _windows = windows;
            _used = new long[windows.Count];
            for (var i = 0; i < _used.Length; i++)
            {
                _used[i] = values[i];
            }
        }

        public int Count => _used.Length;

        public LimitState this[int index]
        {
            get
            {
                var window = _windows[index];
                return new LimitState(window.Policy, window.Limit, _used[index], window.Seconds, window.ResetAt, window.Delta, window.IsTokens);
            }
        }

        public IEnumerator<LimitState> GetEnumerator()
        {
            for (var i = 0; i < _used.Length; i++)
            {
                yield return this[i];
            }
        }

        System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
    }

    /// <summary>Every request window a request counts in (a call's token window is added by <see cref="ForCall"/>).</summary>
    internal static Window[] Windows(string keyId, RequestLimits limits, DateTimeOffset now)
    {
        var windows = new List<Window>(6);
        var unixSeconds = now.ToUnixTimeSeconds();
        AddFixed(windows, keyId, "second", "s", limits.RequestsPerSecond, 1, unixSeconds);
        AddFixed(windows, keyId, "minute", "m", limits.RequestsPerMinute, 60, unixSeconds);
        AddFixed(windows, keyId, "hour", "h", limits.RequestsPerHour, 3600, unixSeconds);
        AddFixed(windows, keyId, "day", "d", limits.RequestsPerDay, 86_400, unixSeconds);
        if (limits.MonthlyRequests is { } monthly)
        {
            windows.Add(MonthWindow(keyId, monthly, now));
        }

        return [.. windows];
    }

    /// <summary>The minute window <paramref name="tokens"/> count in, after the request windows.</summary>
    private static Window TokenWindow(string keyId, long tokenLimit, long unixSeconds, long tokens)
    {
        var minute = unixSeconds / 60;
        return new Window("tokens-minute", WindowCounterKeys.Get(keyId, "tm", minute), tokenLimit, 60, DateTimeOffset.FromUnixTimeSeconds((minute + 1) * 60), tokens, IsTokens: true);
    }

    /// <summary>The key's UTC calendar-month quota window (its counter exists whether or not the key has a quota).</summary>
    internal static Window MonthWindow(string keyId, long limit, DateTimeOffset now)
    {
        var utc = now.UtcDateTime;
        var start = new DateTimeOffset(utc.Year, utc.Month, 1, 0, 0, 0, TimeSpan.Zero);
        var end = start.AddMonths(1);
        // The number reads as the year and month (202612): the key as it always was for every four-digit year.
        return new Window("month", WindowCounterKeys.Get(keyId, "mo", (utc.Year * 100L) + utc.Month), limit, (long)(end - start).TotalSeconds, end);
    }

    private static void AddFixed(List<Window> windows, string keyId, string policy, string code, long? limit, long seconds, long unixSeconds)
    {
        if (limit is not { } value)
        {
            return;
        }

        var number = unixSeconds / seconds;
        windows.Add(new Window(policy, WindowCounterKeys.Get(keyId, code, number), value, seconds, DateTimeOffset.FromUnixTimeSeconds((number + 1) * seconds)));
    }

    internal readonly record struct Window(string Policy, string CounterKey, long Limit, long Seconds, DateTimeOffset ResetAt, long Delta = 1, bool IsTokens = false)
    {
        /// <summary>What counting in this window adds to its counter.</summary>
        public CounterIncrement Increment => new(CounterKey, Delta, ResetAt);
    }
}
