namespace UsageBilling;

/// <summary>How a call ended, as the endpoint's run tells it.</summary>
/// <param name="Charge">What the call costs; ignored when <paramref name="Release"/>.</param>
/// <param name="Release">Whether nothing is charged (the response is not billable, or nothing was used): the hold is released.</param>
/// <param name="ActualTokens">The tokens the call counts against a token limit, when it is token-metered.</param>
/// <param name="Response">The response to keep for replays of the call's <c>Idempotency-Key</c>, if any.</param>
internal readonly record struct CallResult(Money Charge, bool Release, long? ActualTokens = null, StoredResponse? Response = null);

/// <summary>What the response says of a call that ran, for its usage record.</summary>
/// <param name="StatusCode">The status sent (500 for an endpoint that threw before answering).</param>
/// <param name="DurationMs">How long the call took.</param>
/// <param name="ClientAborted">Whether the client left before the end.</param>
internal readonly record struct CallEnd(int StatusCode, double DurationMs, bool ClientAborted);

/// <summary>
/// An admitted call: the counts it took and the credit it holds. Like ASP.NET Core's <c>RateLimitLease</c>, it is
/// given up exactly once: <see cref="CompleteAsync"/> settles (or releases) for what the call used, and
/// <see cref="DisposeAsync"/> of a lease that was not completed gives every count back and releases the hold,
/// whatever threw. A write the store fails is retried off the request path until it lands (<see cref="PendingCompletions"/>).
/// </summary>
internal sealed class CallLease : IAsyncDisposable
{
    private const int Open = 0;
    private const int Done = 1;

    private readonly MeteredCalls _owner;
    private int _state;

    internal CallLease(MeteredCalls owner, CallRequest request, CallCounts counts)
    {
        _owner = owner;
        Request = request;
        Counts = counts;
    }

    public CallRequest Request { get; }

    public CallCounts Counts { get; }

    /// <summary>The hold, once the credit is reserved.</summary>
    public CreditReservation? Reservation { get; internal set; }

    /// <summary>The id of a hold being placed whose answer has not arrived; released on dispose in case it was placed.</summary>
    internal string? UnconfirmedReservationId { get; set; }

    /// <summary>
    /// Records what the call used: charges it once (or releases the hold), moves the counts from the estimate to the
    /// actual use, keeps the response for replays, and writes the usage record — now, or when a deferred settle lands.
    /// Returns the record as it stands (outcome <see cref="MeteredCalls.SettlePending"/> while the charge is retried).
    /// <paramref name="end"/>, when given, is written into the record with its cost and outcome (one copy of it, not two).
    /// </summary>
    public ValueTask<UsageRecord> CompleteAsync(CallResult result, UsageRecord record, CallEnd? end = null)
    {
        if (Interlocked.Exchange(ref _state, Done) != Open)
        {
            throw new InvalidOperationException("A call lease is completed or disposed once.");
        }

        return _owner.CompleteAsync(this, result, record, end);
    }

    /// <summary>Gives back every count and releases the hold if the lease was not completed; does nothing otherwise.</summary>
    public ValueTask DisposeAsync()
        => Interlocked.Exchange(ref _state, Done) == Open ? _owner.AbandonAsync(this) : ValueTask.CompletedTask;
}
