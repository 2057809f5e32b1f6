using System.Collections.Concurrent;
using System.Globalization;
using Microsoft.Extensions.Options;

namespace UsageBilling;

/// <summary>
/// The in-memory <see cref="ICreditStore"/>: one lock per account makes every operation on an account atomic.
/// For tests and single-process development; balances are lost when the process stops.
/// </summary>
/// <remarks>
/// <para>
/// Bounded by time, not by history. A finished (settled, released or expired) reservation is kept for
/// <c>Idempotency:ReplayFor</c> (24 h) after it finished, on the store's <see cref="TimeProvider"/>, so that its
/// idempotency key answers <see cref="ReserveStatus.Duplicate"/> for that long; then it is forgotten (its key may
/// hold again, its id is unknown). Active holds are never forgotten. Ledger entries, and the ledger's idempotency
/// index, are kept: they are the account's money record, and a grant's key is exactly-once for ever as on the
/// database backends.
/// </para>
/// <para>
/// Active holds are also indexed by expiry and by creation time, so that <see cref="ExpireReservationsAsync"/> visits
/// only the holds it expires, never finished reservations. Lock order: an account's lock, then
/// <see cref="_activeLock"/> or <see cref="_finishedLock"/> (leaf locks, held for a few operations only).
/// </para>
/// </remarks>
internal sealed class InMemoryCreditStore : ICreditStore
{
    /// <summary>How many due finished reservations a reservation forgets on its way out (more than it can add: two).</summary>
    private const int ForgetPerReserve = 4;

    private readonly ConcurrentDictionary<string, AccountState> _accounts = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, string> _reservationAccounts = new(StringComparer.Ordinal);
    private readonly TimeProvider _timeProvider;
    private readonly long _retainFinishedTicks;

    private readonly Lock _activeLock = new();
    private readonly SortedSet<Hold> _activeByExpiry = new(Hold.Order);
    private readonly SortedSet<Hold> _activeByCreation = new(Hold.Order);

    private readonly Lock _finishedLock = new();
    private readonly Queue<Finished> _finished = new();
    private long _nextForgetTicks = long.MaxValue;
    private long _sweepVisits;

    public InMemoryCreditStore(TimeProvider timeProvider, IOptions<UsageBillingOptions> options)
        : this(timeProvider, (options ?? throw new ArgumentNullException(nameof(options))).Value.Idempotency.ReplayFor)
    {
    }

    /// <summary>For tests: the system clock and a 24-hour window unless given.</summary>
    internal InMemoryCreditStore(TimeProvider? timeProvider = null, TimeSpan? retainFinishedFor = null)
    {
        _timeProvider = timeProvider ?? TimeProvider.System;
        _retainFinishedTicks = (retainFinishedFor ?? TimeSpan.FromHours(24)).Ticks;
    }

    /// <summary>
    /// Reservations the store holds, active and finished (for tests): the largest count of its three indexes (by id,
    /// per account by id, per account by key), so that a reservation any one of them still keeps is counted.
    /// </summary>
    internal int RetainedReservationCount
    {
        get
        {
            int byId = 0, byKey = 0;
            foreach (var state in _accounts.Values)
            {
                lock (state)
                {
                    byId += state.Reservations.Count;
                    byKey += state.ReservationsByKey.Count;
                }
            }

            return Math.Max(_reservationAccounts.Count, Math.Max(byId, byKey));
        }
    }

    /// <summary>Active holds in the expiry index (for tests).</summary>
    internal int ActiveHoldCount
    {
        get
        {
            lock (_activeLock)
            {
                return _activeByExpiry.Count;
            }
        }
    }

    /// <summary>How many holds <see cref="ExpireReservationsAsync"/> has taken from its index, in total (for tests).</summary>
    internal long SweepVisits => Interlocked.Read(ref _sweepVisits);

    public ValueTask<CreditBalance> GetBalanceAsync(string accountId, CancellationToken cancellationToken = default)
    {
        if (!_accounts.TryGetValue(accountId, out var state))
        {
            return ValueTask.FromResult(default(CreditBalance));
        }

        lock (state)
        {
            return ValueTask.FromResult(state.Balance);
        }
    }

    public ValueTask<ReserveResult> ReserveAsync(CreditReservationRequest request, CancellationToken cancellationToken = default)
    {
        var result = Reserve(request);
        ForgetFinished(ForgetPerReserve);
        return ValueTask.FromResult(result);
    }

    private ReserveResult Reserve(CreditReservationRequest request)
    {
        var state = Account(request.AccountId);
        lock (state)
        {
            if (state.ReservationsByKey.TryGetValue(request.IdempotencyKey, out var existingId))
            {
                // Released, expired or settled is final: the same key never holds again.
                return new ReserveResult(ReserveStatus.Duplicate, state.Reservations[existingId], state.Balance);
            }

            if (state.Balance.Available < request.Amount)
            {
                return new ReserveResult(ReserveStatus.InsufficientCredit, null, state.Balance);
            }

            var reservation = new CreditReservation
            {
                Id = request.ReservationId,
                AccountId = request.AccountId,
                Amount = request.Amount,
                IdempotencyKey = request.IdempotencyKey,
                Reference = request.Reference,
                State = ReservationState.Active,
                CreatedAt = request.CreatedAt,
                ExpiresAt = request.ExpiresAt,
            };
            state.Reservations[reservation.Id] = reservation;
            state.ReservationsByKey[reservation.IdempotencyKey] = reservation.Id;
            _reservationAccounts[reservation.Id] = reservation.AccountId;
            AddActive(reservation);
            state.Balance = state.Balance with { Reserved = state.Balance.Reserved + request.Amount };
            return new ReserveResult(ReserveStatus.Reserved, reservation, state.Balance);
        }
    }

    public ValueTask<SettleResult> SettleAsync(string reservationId, Money actualAmount, DateTimeOffset now, CancellationToken cancellationToken = default)
    {
        if (!TryGetReservationAccount(reservationId, out var state))
        {
            return ValueTask.FromResult(new SettleResult(SettleStatus.NotActive, null));
        }

        lock (state)
        {
            if (!state.Reservations.TryGetValue(reservationId, out var reservation))
            {
                return ValueTask.FromResult(new SettleResult(SettleStatus.NotActive, null));
            }

            switch (reservation.State)
            {
                case ReservationState.Settled:
                    return ValueTask.FromResult(new SettleResult(SettleStatus.AlreadySettled, ChargeOf(state, reservation.AccountId, reservationId)));
                case ReservationState.Released:
                    return ValueTask.FromResult(new SettleResult(SettleStatus.NotActive, null));
            }

            // An expired hold was already removed from Reserved by the sweeper; the call still happened, so it is charged.
            var held = reservation.State == ReservationState.Active ? reservation.Amount : Money.Zero;
            if (reservation.State == ReservationState.Active)
            {
                RemoveActive(reservation);
            }

            state.Reservations[reservationId] = reservation with { State = ReservationState.Settled, SettledAmount = actualAmount };
            AddFinished(reservation.AccountId, reservationId, ReservationState.Settled);
            state.Balance = state.Balance with { Reserved = state.Balance.Reserved - held };
            LedgerEntry? entry = null;
            if (!actualAmount.IsZero)
            {
                var balanceAfter = state.Balance.Balance - actualAmount;
                state.Charges[reservationId] = state.Ledger.Count;
                state.Ledger.Add(new LedgerRow(null, reservationId, reservation.Reference, actualAmount, balanceAfter, now));
                state.Balance = state.Balance with { Balance = balanceAfter };
                entry = EntryAt(state, reservation.AccountId, state.Ledger.Count - 1);
            }

            return ValueTask.FromResult(new SettleResult(SettleStatus.Settled, entry));
        }
    }

    public ValueTask<bool> ReleaseAsync(string reservationId, DateTimeOffset now, CancellationToken cancellationToken = default)
    {
        if (!TryGetReservationAccount(reservationId, out var state))
        {
            return ValueTask.FromResult(false);
        }

        lock (state)
        {
            if (!state.Reservations.TryGetValue(reservationId, out var reservation) || reservation.State != ReservationState.Active)
            {
                return ValueTask.FromResult(false);
            }

            RemoveActive(reservation);
            state.Reservations[reservationId] = reservation with { State = ReservationState.Released };
            AddFinished(reservation.AccountId, reservationId, ReservationState.Released);
            state.Balance = state.Balance with { Reserved = state.Balance.Reserved - reservation.Amount };
            return ValueTask.FromResult(true);
        }
    }

    public ValueTask<CreditReservation?> FindReservationAsync(string reservationId, CancellationToken cancellationToken = default)
    {
        if (!TryGetReservationAccount(reservationId, out var state))
        {
            return ValueTask.FromResult<CreditReservation?>(null);
        }

        lock (state)
        {
            return ValueTask.FromResult(state.Reservations.GetValueOrDefault(reservationId));
        }
    }

    public ValueTask<PostResult> PostAsync(LedgerPostRequest request, CancellationToken cancellationToken = default)
    {
        var state = Account(request.AccountId);
        lock (state)
        {
            // A key is written once whatever wrote it: a settle's charge has one too.
            var existing = state.LedgerByKey.GetValueOrDefault(request.IdempotencyKey)
                ?? (request.IdempotencyKey.StartsWith(SettleKeyPrefix, StringComparison.Ordinal)
                    ? ChargeOf(state, request.AccountId, request.IdempotencyKey[SettleKeyPrefix.Length..])
                    : null);
            if (existing is not null)
            {
                return ValueTask.FromResult(new PostResult(PostStatus.Duplicate, existing));
            }

            if (request.RequireAvailableBalance && request.Amount.IsNegative && state.Balance.Available + request.Amount < Money.Zero)
            {
                return ValueTask.FromResult(new PostResult(PostStatus.InsufficientCredit, null));
            }

            if (!CreditBalance.IsWithinLimit(state.Balance.Balance, request.Amount))
            {
                return ValueTask.FromResult(new PostResult(PostStatus.LimitExceeded, null));
            }

            var entry = Post(state, new LedgerEntry
            {
                Id = request.EntryId,
                AccountId = request.AccountId,
                Kind = request.Kind,
                Amount = request.Amount,
                BalanceAfter = state.Balance.Balance + request.Amount,
                IdempotencyKey = request.IdempotencyKey,
                Reference = request.Reference,
                Reason = request.Reason,
                CreatedAt = request.CreatedAt,
            });
            return ValueTask.FromResult(new PostResult(PostStatus.Posted, entry));
        }
    }

    public ValueTask<LedgerPage> GetLedgerAsync(string accountId, int limit, string? cursor, CancellationToken cancellationToken = default)
    {
        if (!_accounts.TryGetValue(accountId, out var state))
        {
            return ValueTask.FromResult(new LedgerPage([], null));
        }

        lock (state)
        {
            // Newest first: walk the append-ordered list backwards from just before the cursor, the position of the
            // last entry of the previous page (an unknown cursor gives an empty page).
            var start = state.Ledger.Count - 1;
            if (cursor is not null)
            {
                start = int.TryParse(cursor, NumberStyles.None, CultureInfo.InvariantCulture, out var position) && position <= state.Ledger.Count ? position - 1 : -1;
            }

            var page = new List<LedgerEntry>(Math.Min(limit, Math.Max(start + 1, 0)));
            var i = start;
            for (; i >= 0 && page.Count < limit; i--)
            {
                page.Add(EntryAt(state, accountId, i));
            }

            var next = page.Count == limit && i >= 0 ? (i + 1).ToString(CultureInfo.InvariantCulture) : null;
            return ValueTask.FromResult(new LedgerPage(page, next));
        }
    }

    public ValueTask<int> ExpireReservationsAsync(DateTimeOffset now, DateTimeOffset createdBefore, int maxCount, CancellationToken cancellationToken = default)
    {
        // Only due holds are visited: the earliest of each index, until neither is due. A hold finished between the
        // look and the account's lock has left both indexes already (whoever finished it held that lock).
        var expired = 0;
        while (expired < maxCount)
        {
            var next = NextDue(now, createdBefore);
            if (next is null)
            {
                break;
            }

            var due = next.Value;
            Interlocked.Increment(ref _sweepVisits);
            var state = Account(due.AccountId);
            lock (state)
            {
                if (state.Reservations.TryGetValue(due.Id, out var reservation) && reservation.State == ReservationState.Active)
                {
                    RemoveActive(reservation);
                    state.Reservations[reservation.Id] = reservation with { State = ReservationState.Expired };
                    AddFinished(reservation.AccountId, reservation.Id, ReservationState.Expired);
                    state.Balance = state.Balance with { Reserved = state.Balance.Reserved - reservation.Amount };
                    expired++;
                }
                else
                {
                    // Cannot happen while the indexes hold only active holds; never loop on a stale entry.
                    lock (_activeLock)
                    {
                        _activeByExpiry.Remove(due);
                        _activeByCreation.Remove(due);
                    }
                }
            }
        }

        // The sweeper also forgets what finished more than a window ago, so an idle store shrinks too.
        ForgetFinished(int.MaxValue);
        return ValueTask.FromResult(expired);
    }

    /// <summary>The earliest active hold past its expiry, else the earliest created at or before <paramref name="createdBefore"/>; null when none is due.</summary>
    private Hold? NextDue(DateTimeOffset now, DateTimeOffset createdBefore)
    {
        lock (_activeLock)
        {
            if (_activeByExpiry.Count > 0 && _activeByExpiry.Min.At <= now)
            {
                return _activeByExpiry.Min;
            }

            if (_activeByCreation.Count > 0 && _activeByCreation.Min.At <= createdBefore)
            {
                return _activeByCreation.Min;
            }

            return null;
        }
    }

    /// <summary>
    /// Forgets up to <paramref name="maxCount"/> finished reservations whose window has passed, oldest first; returns how many.
    /// Called with no account lock held.
    /// </summary>
    internal int ForgetFinished(int maxCount)
    {
        var nowTicks = _timeProvider.GetUtcNow().UtcTicks;
        var forgotten = 0;
        while (forgotten < maxCount && nowTicks >= Volatile.Read(ref _nextForgetTicks))
        {
            Finished finished;
            lock (_finishedLock)
            {
                if (!_finished.TryPeek(out finished) || finished.ForgetAtTicks > nowTicks)
                {
                    break;
                }

                _finished.Dequeue();
                Volatile.Write(ref _nextForgetTicks, _finished.TryPeek(out var next) ? next.ForgetAtTicks : long.MaxValue);
            }

            if (!_accounts.TryGetValue(finished.AccountId, out var state))
            {
                continue;
            }

            lock (state)
            {
                // An expired hold settled later has a newer entry (Settled) that counts its window from the settle.
                if (state.Reservations.TryGetValue(finished.Id, out var reservation) && reservation.State == finished.State)
                {
                    state.Reservations.Remove(finished.Id);
                    state.ReservationsByKey.Remove(reservation.IdempotencyKey);
                    _reservationAccounts.TryRemove(finished.Id, out _);
                    forgotten++;
                }
            }
        }

        return forgotten;
    }

    private const string SettleKeyPrefix = "settle:";

    internal static string SettleKey(string reservationId) => SettleKeyPrefix + reservationId;

    /// <summary>Appends a posted entry (not a settle's charge: see <see cref="LedgerRow"/>).</summary>
    private static LedgerEntry Post(AccountState state, LedgerEntry entry)
    {
        state.Ledger.Add(new LedgerRow(entry, null, null, Money.Zero, Money.Zero, default));
        state.LedgerByKey[entry.IdempotencyKey] = entry;
        state.Balance = state.Balance with { Balance = entry.BalanceAfter };
        return entry;
    }

    /// <summary>The charge of the settle of <paramref name="reservationId"/>, if it was charged.</summary>
    private static LedgerEntry? ChargeOf(AccountState state, string accountId, string reservationId)
        => state.Charges.TryGetValue(reservationId, out var position) ? EntryAt(state, accountId, position) : null;

    /// <summary>The ledger entry at <paramref name="position"/>: as posted, or a settle's charge made from its row.</summary>
    private static LedgerEntry EntryAt(AccountState state, string accountId, int position)
    {
        var row = state.Ledger[position];
        return row.Entry ?? new LedgerEntry
        {
            Id = row.ReservationId!.Replace("res_", "led_", StringComparison.Ordinal),
            AccountId = accountId,
            Kind = LedgerEntryKind.Charge,
            Amount = -row.Charge,
            BalanceAfter = row.BalanceAfter,
            IdempotencyKey = SettleKey(row.ReservationId),
            ReservationId = row.ReservationId,
            Reference = row.Reference,
            CreatedAt = row.CreatedAt,
        };
    }

    private void AddActive(CreditReservation reservation)
    {
        lock (_activeLock)
        {
            _activeByExpiry.Add(new Hold(reservation.ExpiresAt, reservation.Id, reservation.AccountId));
            _activeByCreation.Add(new Hold(reservation.CreatedAt, reservation.Id, reservation.AccountId));
        }
    }

    private void RemoveActive(CreditReservation reservation)
    {
        lock (_activeLock)
        {
            _activeByExpiry.Remove(new Hold(reservation.ExpiresAt, reservation.Id, reservation.AccountId));
            _activeByCreation.Remove(new Hold(reservation.CreatedAt, reservation.Id, reservation.AccountId));
        }
    }

    private void AddFinished(string accountId, string reservationId, ReservationState state)
    {
        var forgetAt = _timeProvider.GetUtcNow().UtcTicks + _retainFinishedTicks;
        lock (_finishedLock)
        {
            // Finish times come from one clock, so the queue is in forget order (a clock set back only delays some).
            if (_finished.Count == 0)
            {
                Volatile.Write(ref _nextForgetTicks, forgetAt);
            }

            _finished.Enqueue(new Finished(forgetAt, accountId, reservationId, state));
        }
    }

    private AccountState Account(string accountId) => _accounts.GetOrAdd(accountId, static _ => new AccountState());

    private bool TryGetReservationAccount(string reservationId, out AccountState state)
    {
        state = null!;
        return _reservationAccounts.TryGetValue(reservationId, out var accountId) && _accounts.TryGetValue(accountId, out state!);
    }

    private sealed class AccountState
    {
        public CreditBalance Balance { get; set; }

        /// <summary>The ledger in append order.</summary>
        public List<LedgerRow> Ledger { get; } = [];

        /// <summary>Posted entries by idempotency key (a settle's charge is found by its reservation instead).</summary>
        public Dictionary<string, LedgerEntry> LedgerByKey { get; } = new(StringComparer.Ordinal);

        /// <summary>The position in <see cref="Ledger"/> of each settle's charge, by reservation id.</summary>
        public Dictionary<string, int> Charges { get; } = new(StringComparer.Ordinal);

        public Dictionary<string, CreditReservation> Reservations { get; } = new(StringComparer.Ordinal);

        public Dictionary<string, string> ReservationsByKey { get; } = new(StringComparer.Ordinal);
    }

    /// <summary>An active hold in an index: ordered by <see cref="At"/> (expiry or creation), then id.</summary>
    private readonly record struct Hold(DateTimeOffset At, string Id, string AccountId)
    {
        public static readonly IComparer<Hold> Order = Comparer<Hold>.Create(static (x, y) =>
        {
            var byTime = x.At.UtcTicks.CompareTo(y.At.UtcTicks);
            return byTime != 0 ? byTime : string.CompareOrdinal(x.Id, y.Id);
        });
    }

    /// <summary>
    /// A row of an account's ledger: a posted <see cref="Entry"/>, or a settle's charge kept as the few values its entry is
    /// made from when read (id, idempotency key and account follow from the reservation), so that the ledger, kept for
    /// ever, holds no objects of its own per metered call for the collector to copy.
    /// </summary>
    private readonly record struct LedgerRow(LedgerEntry? Entry, string? ReservationId, string? Reference, Money Charge, Money BalanceAfter, DateTimeOffset CreatedAt);

    /// <summary>A reservation that reached <see cref="State"/>, to forget at <see cref="ForgetAtTicks"/> (UTC ticks).</summary>
    private readonly record struct Finished(long ForgetAtTicks, string AccountId, string Id, ReservationState State);
}
