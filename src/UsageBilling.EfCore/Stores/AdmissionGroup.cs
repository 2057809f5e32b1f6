namespace UsageBilling.EntityFrameworkCore;

/// <summary>
/// The in-process half of admitting a group of calls in one transaction. The store first writes optimistically for
/// the whole group — every call's counter increments (a key's deltas summed), every reservation, and one conditional
/// hold per account for all of its calls — then <see cref="Decide"/> walks the calls in order: each call sees the
/// counters as they were before the group plus the calls admitted before it, exactly as if the calls had been
/// admitted one after the other. What the group wrote for calls that were not admitted is then taken back in the same
/// transaction (<see cref="CountsToGiveBack"/>, <see cref="ReservationsToDelete"/>, <see cref="HoldsToRelease"/>).
/// </summary>
internal sealed class AdmissionGroup
{
    private readonly IReadOnlyList<CallAdmissionRequest> _calls;
    private readonly Dictionary<string, Counter> _counters;
    private readonly HashSet<string> _duplicates = new(StringComparer.Ordinal);
    private readonly Dictionary<string, long> _admittedHolds = new(StringComparer.Ordinal);
    private readonly List<string> _notKept = [];

    public AdmissionGroup(IReadOnlyList<CallAdmissionRequest> calls)
    {
        _calls = calls;
        var count = 0;
        foreach (var call in calls)
        {
            count += call.Increments.Count;
        }

        var increments = new CounterIncrement[count];
        _counters = new Dictionary<string, Counter>(count, StringComparer.Ordinal);
        count = 0;
        var keys = new HashSet<(string Account, string Key)>();
        var holds = new SortedDictionary<string, Int128>(StringComparer.Ordinal);
        foreach (var call in calls)
        {
            foreach (var increment in call.Increments)
            {
                increments[count++] = increment;
                var counter = _counters.GetValueOrDefault(increment.Key);
                _counters[increment.Key] = counter with
                {
                    GroupDelta = checked(counter.GroupDelta + increment.Delta),

                    // Used only by the give-back, which lands on the row the group has just written: an upsert never
                    // changes an existing row's expiry (and one key names one window, so its increments agree).
                    ExpiresAt = increment.ExpiresAt,
                };
            }

            var reservation = call.Reservation;
            if (!keys.Add((reservation.AccountId, reservation.IdempotencyKey)))
            {
                // A second call with the same key in one group: the store answers it once the first is kept (in progress, or replayed).
                _duplicates.Add(reservation.ReservationId);
                continue;
            }

            Reservations.Add(reservation);
            holds[reservation.AccountId] = holds.GetValueOrDefault(reservation.AccountId) + reservation.Amount.Nanos;
        }

        Increments = increments;

        // An account whose calls together hold more than a balance can have is not held here; its calls go the separate way.
        Holds = [.. holds.Where(static h => h.Value <= long.MaxValue).Select(static h => (h.Key, (long)h.Value))];
    }

    /// <summary>Every call's increments, in call order (the counter store merges a key's deltas).</summary>
    public CounterIncrement[] Increments { get; }

    /// <summary>The reservations to insert: every call's but a repeated key's.</summary>
    public List<CreditReservationRequest> Reservations { get; } = [];

    /// <summary>One hold per account, for all of its calls, in account order (the store's lock order).</summary>
    public (string AccountId, long Amount)[] Holds { get; }

    /// <summary>
    /// Decides every call, in order. <paramref name="counted"/> holds the counter values after the whole group's
    /// increments, in the order of <see cref="Increments"/>; <paramref name="inserted"/> the ids of the reservations
    /// inserted; <paramref name="held"/> the accounts whose hold for all of their calls was taken.
    /// </summary>
    public CallAdmissionResult[] Decide(long[] counted, IReadOnlySet<string> inserted, IReadOnlySet<string> held)
    {
        var next = 0;
        foreach (var call in _calls)
        {
            foreach (var increment in call.Increments)
            {
                _counters[increment.Key] = _counters[increment.Key] with { Before = checked(counted[next++] - _counters[increment.Key].GroupDelta) };
            }
        }

        var results = new CallAdmissionResult[_calls.Count];
        for (var i = 0; i < _calls.Count; i++)
        {
            var call = _calls[i];
            var values = CountsOf(call);
            var reservation = call.Reservation;
            if (!call.Admit(values))
            {
                results[i] = new CallAdmissionResult(CallAdmissionStatus.Refused, values, null);
            }
            else if (_duplicates.Contains(reservation.ReservationId) || !inserted.Contains(reservation.ReservationId) || !held.Contains(reservation.AccountId))
            {
                results[i] = new CallAdmissionResult(CallAdmissionStatus.NotHandled, [], null);
            }
            else
            {
                foreach (var increment in call.Increments)
                {
                    _counters[increment.Key] = _counters[increment.Key] with { Admitted = checked(_counters[increment.Key].Admitted + increment.Delta) };
                }

                _admittedHolds[reservation.AccountId] = _admittedHolds.GetValueOrDefault(reservation.AccountId) + reservation.Amount.Nanos;
                results[i] = new CallAdmissionResult(CallAdmissionStatus.Admitted, values, Admitted(reservation));
                continue;
            }

            if (inserted.Contains(reservation.ReservationId))
            {
                _notKept.Add(reservation.ReservationId);
            }
        }

        return results;
    }

    /// <summary>After <see cref="Decide"/>: what the group counted for calls that were not admitted, to take back.</summary>
    public IEnumerable<CounterIncrement> CountsToGiveBack => _counters
        .Where(static c => c.Value.GroupDelta != c.Value.Admitted)
        .Select(static c => new CounterIncrement(c.Key, checked(c.Value.Admitted - c.Value.GroupDelta), c.Value.ExpiresAt));

    /// <summary>After <see cref="Decide"/>: the inserted reservations of calls that were not admitted.</summary>
    public IReadOnlyList<string> ReservationsToDelete => _notKept;

    /// <summary>After <see cref="Decide"/>: per held account (in account order), what its hold took for calls that were not admitted.</summary>
    public IEnumerable<(string AccountId, long Amount)> HoldsToRelease(IReadOnlySet<string> held) => Holds
        .Where(h => held.Contains(h.AccountId))
        .Select(h => (h.AccountId, h.Amount - _admittedHolds.GetValueOrDefault(h.AccountId)))
        .Where(static h => h.Item2 != 0);

    /// <summary>
    /// The call's counter values as if admitted alone after the calls admitted before it, in the order of its
    /// increments (a key the call names twice moves once by the sum of its deltas, as in the counter store).
    /// </summary>
    private long[] CountsOf(CallAdmissionRequest call)
    {
        var increments = call.Increments;
        var values = new long[increments.Count];
        for (var j = 0; j < values.Length; j++)
        {
            var key = increments[j].Key;
            var delta = 0L;
            for (var k = 0; k < increments.Count; k++)
            {
                if (string.Equals(increments[k].Key, key, StringComparison.Ordinal))
                {
                    delta = checked(delta + increments[k].Delta);
                }
            }

            var counter = _counters[key];
            values[j] = checked(counter.Before + counter.Admitted + delta);
        }

        return values;
    }

    private static CreditReservation Admitted(CreditReservationRequest reservation) => new()
    {
        Id = reservation.ReservationId,
        AccountId = reservation.AccountId,
        Amount = reservation.Amount,
        IdempotencyKey = reservation.IdempotencyKey,
        Reference = reservation.Reference,
        State = ReservationState.Active,
        CreatedAt = reservation.CreatedAt,
        ExpiresAt = reservation.ExpiresAt,
    };

    /// <summary>
    /// One counter of the group: its value before the group, the sum of every call's deltas (written first), the sum
    /// of the admitted calls' deltas (kept), and its expiry.
    /// </summary>
    private readonly record struct Counter(long Before, long GroupDelta, long Admitted, DateTimeOffset ExpiresAt);
}
