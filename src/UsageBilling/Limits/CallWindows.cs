namespace UsageBilling;

/// <summary>The windows a call counts in (<see cref="LimitWindows.ForCall"/>) and their counter increments, in the same order; shared, never changed.</summary>
internal sealed class CallWindows
{
    private readonly string _keyId;
    private readonly long _second;
    private readonly long? _perSecond;
    private readonly long? _perMinute;
    private readonly long? _perHour;
    private readonly long? _perDay;
    private readonly long? _monthly;

    public CallWindows(string keyId, RequestLimits limits, long second, LimitWindows.Window[] windows)
    {
        _keyId = keyId;
        _second = second;
        _perSecond = limits.RequestsPerSecond;
        _perMinute = limits.RequestsPerMinute;
        _perHour = limits.RequestsPerHour;
        _perDay = limits.RequestsPerDay;
        _monthly = limits.MonthlyRequests;
        Windows = windows;
        Increments = LimitWindows.Increments(windows);
    }

    private CallWindows(CallWindows requests, LimitWindows.Window[] windows, CounterIncrement[] increments)
    {
        _keyId = requests._keyId;
        _second = requests._second;
        _perSecond = requests._perSecond;
        _perMinute = requests._perMinute;
        _perHour = requests._perHour;
        _perDay = requests._perDay;
        _monthly = requests._monthly;
        Windows = windows;
        Increments = increments;
    }

    public LimitWindows.Window[] Windows { get; }

    public CounterIncrement[] Increments { get; }

    /// <summary>These windows and <paramref name="window"/> after them (a call's token window): new arrays, these unchanged.</summary>
    public CallWindows With(LimitWindows.Window window)
    {
        var windows = new LimitWindows.Window[Windows.Length + 1];
        Windows.CopyTo(windows, 0);
        windows[^1] = window;
        var increments = new CounterIncrement[Increments.Length + 1];
        Increments.CopyTo(increments, 0);
        increments[^1] = new CounterIncrement(window.CounterKey, window.Delta, window.ResetAt);
        return new CallWindows(this, windows, increments);
    }

    /// <summary>Whether these are the request windows of <paramref name="keyId"/> with <paramref name="limits"/> in <paramref name="second"/>.</summary>
    public bool Matches(string keyId, RequestLimits limits, long second)
        => second == _second && limits.RequestsPerSecond == _perSecond && limits.RequestsPerMinute == _perMinute && limits.RequestsPerHour == _perHour
            && limits.RequestsPerDay == _perDay && limits.MonthlyRequests == _monthly && string.Equals(keyId, _keyId, StringComparison.Ordinal);
}
