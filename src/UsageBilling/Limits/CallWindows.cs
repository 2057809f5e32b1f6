namespace UsageBilling;

/// <summary>
/// The windows a call counts in (<see cref="LimitWindows.ForCall"/>): its key's request windows and their counter
/// increments, in the same order, shared by every call of the key in one second and never changed; and a call that
/// counts tokens has its token window after them (<see cref="With"/>), held here rather than in copies of the shared arrays.
/// </summary>
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
        (_perSecond, _perMinute, _perHour, _perDay, _monthly) = (limits.RequestsPerSecond, limits.RequestsPerMinute, limits.RequestsPerHour, limits.RequestsPerDay, limits.MonthlyRequests);
        Requests = windows;
        RequestIncrements = LimitWindows.Increments(windows);
    }

    private CallWindows(CallWindows requests, LimitWindows.Window token)
    {
        (_keyId, _second, _perSecond, _perMinute, _perHour, _perDay, _monthly) =
            (requests._keyId, requests._second, requests._perSecond, requests._perMinute, requests._perHour, requests._perDay, requests._monthly);
        Requests = requests.Requests;
        RequestIncrements = requests.RequestIncrements;
        Token = token;
    }

    /// <summary>The request windows (shared: never changed by their users).</summary>
    public LimitWindows.Window[] Requests { get; }

    /// <summary>The counter increments of <see cref="Requests"/>, in the same order (shared: never changed by their users).</summary>
    public CounterIncrement[] RequestIncrements { get; }

    /// <summary>The call's token window, after the request windows; null when it counts no tokens.</summary>
    public LimitWindows.Window? Token { get; }

    /// <summary>How many windows the call counts in: the request windows and its token window.</summary>
    public int Count => Requests.Length + (Token is null ? 0 : 1);

    /// <summary>The <paramref name="index"/>-th window: the request windows, then the token window.</summary>
    public LimitWindows.Window this[int index]
        => index < Requests.Length ? Requests[index]
            : index == Requests.Length && Token is { } token ? token
            : throw new ArgumentOutOfRangeException(nameof(index));

    /// <summary>These request windows and <paramref name="token"/> after them (a call's token window); these unchanged.</summary>
    public CallWindows With(LimitWindows.Window token) => new(this, token);

    /// <summary>Writes the increments of every window, in order, to the start of <paramref name="destination"/>.</summary>
    public void CopyIncrementsTo(Span<CounterIncrement> destination)
    {
        RequestIncrements.CopyTo(destination);
        if (Token is { } token)
        {
            destination[RequestIncrements.Length] = token.Increment;
        }
    }

    /// <summary>Whether these are the request windows of <paramref name="keyId"/> with <paramref name="limits"/> in <paramref name="second"/>.</summary>
    public bool Matches(string keyId, RequestLimits limits, long second)
        => second == _second && limits.RequestsPerSecond == _perSecond && limits.RequestsPerMinute == _perMinute && limits.RequestsPerHour == _perHour
            && limits.RequestsPerDay == _perDay && limits.MonthlyRequests == _monthly && string.Equals(keyId, _keyId, StringComparison.Ordinal);
}
