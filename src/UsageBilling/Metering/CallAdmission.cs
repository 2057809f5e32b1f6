namespace UsageBilling;

/// <summary>What a call costs before it runs: a flat price, or an LLM estimate (input counted + the largest output allowed).</summary>
/// <param name="Amount">The amount to hold.</param>
/// <param name="Llm">The LLM estimate, for token-metered calls.</param>
internal sealed record CallQuote(Money Amount, LlmEstimate? Llm = null);

/// <summary>Everything admission needs to know about one metered call.</summary>
/// <param name="Caller">The authenticated key and account.</param>
/// <param name="Quote">The price before the call.</param>
/// <param name="Limits">The key's effective limits.</param>
/// <param name="RequestId">The call's request id.</param>
/// <param name="Reference">What the hold is for (method and path).</param>
/// <param name="Idempotency">The caller's <c>Idempotency-Key</c> and the request's fingerprint, if a key was sent.</param>
/// <param name="Now">When the call started.</param>
internal sealed record CallRequest(IApiKeyFeature Caller, CallQuote Quote, RequestLimits Limits, string RequestId, string Reference, IdempotencyRequest? Idempotency, DateTimeOffset Now);

/// <summary>Why a call was refused, in the terms the caller is told (a problem) and the usage log keeps (an outcome).</summary>
internal sealed record CallRefusal(int Status, string Type, string Title, string Detail, string Outcome, string Reason, IDictionary<string, object?>? Extensions = null);

/// <summary>The answer of admission: exactly one of refused, replayed or admitted.</summary>
internal sealed class Admission
{
    private Admission(CallCounts counts, CallRefusal? refusal, StoredResponse? replay, CallLease? lease)
    {
        Counts = counts;
        Refusal = refusal;
        Replay = replay;
        Lease = lease;
    }

    /// <summary>The limit windows as the caller sees them after admission, for the rate-limit headers.</summary>
    public CallCounts Counts { get; }

    /// <summary>Set when the call is refused; nothing of it stays counted or held.</summary>
    public CallRefusal? Refusal { get; }

    /// <summary>Set when an earlier call with the same key and request completed: its stored outcome (with its body when it could be kept).</summary>
    public StoredResponse? Replay { get; }

    /// <summary>Set when the call may run: what it counted and holds, until it is completed or disposed.</summary>
    public CallLease? Lease { get; }

    public static Admission Refused(CallRefusal refusal, CallCounts? counts = null) => new(counts ?? CallCounts.None, refusal, null, null);

    public static Admission Replayed(StoredResponse replay) => new(CallCounts.None, null, replay, null);

    public static Admission Admitted(CallLease lease) => new(lease.Counts, null, null, lease);
}
