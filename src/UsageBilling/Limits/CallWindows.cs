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
        : this(keyId, second, (limits.RequestsPerSecond, limits.RequestsPerMinute, limits.RequestsPerHour, limits.RequestsPerDay, limits.MonthlyRequests),
            windows, LimitWindows.Increments(windows))
    {
    }

    private CallWindows(string keyId, long second, (long? PerSecond, long? PerMinute, long? PerHour, long? PerDay, long? Monthly) limits,
        LimitWindows.Window[] windows, CounterIncrement[] increments)
    {
        _keyId = keyId;
        _second = second;
        (_perSecond, _perMinute, _perHour, _perDay, _monthly) = limits;
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
        increments[^1] = window.Increment;
        return new CallWindows(_keyId, _second, (_perSecond, _perMinute, _perHour, _perDay, _monthly), windows, increments);
    }

    /// <summary>Whether these are the request windows of <paramref name="keyId"/> with <paramref name="limits"/> in <paramref name="second"/>.</summary>
    public bool Matches(string keyId, RequestLimits limits, long second)
        => second == _second && limits.RequestsPerSecond == _perSecond && limits.RequestsPerMinute == _perMinute && limits.RequestsPerHour == _perHour
            && limits.RequestsPerDay == _perDay && limits.MonthlyRequests == _monthly && string.Equals(keyId, _keyId, StringComparison.Ordinal);
}
