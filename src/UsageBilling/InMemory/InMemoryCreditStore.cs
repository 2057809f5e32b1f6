using System.Collections.Concurrent;

namespace UsageBilling;

/// <summary>
/// The in-memory <see cref="ICreditStore"/>: one lock per account makes every operation on an account atomic.
/// For tests and single-process development; balances are lost when the process stops.
/// </summary>
internal sealed class InMemoryCreditStore : ICreditStore
{
    private readonly ConcurrentDictionary<string, AccountState> _accounts = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, string> _reservationAccounts = new(StringComparer.Ordinal);

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
        var state = Account(request.AccountId);
        lock (state)
        {
            if (state.ReservationsByKey.TryGetValue(request.IdempotencyKey, out var existingId))
            {
                // Released, expired or settled is final: the same key never holds again.
                return ValueTask.FromResult(new ReserveResult(ReserveStatus.Duplicate, state.Reservations[existingId], state.Balance));
            }

            if (state.Balance.Available < request.Amount)
            {
                return ValueTask.FromResult(new ReserveResult(ReserveStatus.InsufficientCredit, null, state.Balance));
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
            state.Balance = state.Balance with { Reserved = state.Balance.Reserved + request.Amount };
            return ValueTask.FromResult(new ReserveResult(ReserveStatus.Reserved, reservation, state.Balance));
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
            var reservation = state.Reservations[reservationId];
            switch (reservation.State)
            {
                case ReservationState.Settled:
                    state.LedgerByKey.TryGetValue(SettleKey(reservationId), out var previous);
                    return ValueTask.FromResult(new SettleResult(SettleStatus.AlreadySettled, previous));
                case ReservationState.Released:
                    return ValueTask.FromResult(new SettleResult(SettleStatus.NotActive, null));
            }

            // An expired hold was already removed from Reserved by the sweeper; the call still happened, so it is charged.
            var held = reservation.State == ReservationState.Active ? reservation.Amount : Money.Zero;
            state.Reservations[reservationId] = reservation with { State = ReservationState.Settled, SettledAmount = actualAmount };
            state.Balance = state.Balance with { Reserved = state.Balance.Reserved - held };
            LedgerEntry? entry = null;
            if (!actualAmount.IsZero)
            {
                entry = Append(state, new LedgerEntry
                {
                    Id = reservationId.Replace("res_", "led_", StringComparison.Ordinal),
                    AccountId = reservation.AccountId,
                    Kind = LedgerEntryKind.Charge,
                    Amount = -actualAmount,
                    BalanceAfter = state.Balance.Balance - actualAmount,
                    IdempotencyKey = SettleKey(reservationId),
                    ReservationId = reservationId,
                    Reference = reservation.Reference,
                    CreatedAt = now,
                });
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
            var reservation = state.Reservations[reservationId];
            if (reservation.State != ReservationState.Active)
            {
                return ValueTask.FromResult(false);
            }

            state.Reservations[reservationId] = reservation with { State = ReservationState.Released };
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
            return ValueTask.FromResult<CreditReservation?>(state.Reservations[reservationId]);
        }
    }

    public ValueTask<PostResult> PostAsync(LedgerPostRequest request, CancellationToken cancellationToken = default)
    {
        var state = Account(request.AccountId);
        lock (state)
        {
            if (state.LedgerByKey.TryGetValue(request.IdempotencyKey, out var existing))
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

            var entry = Append(state, new LedgerEntry
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
            // Newest first: walk the append-ordered list backwards from just before the cursor entry.
            var start = state.Ledger.Count - 1;
            if (cursor is not null)
            {
                start = state.LedgerIndex.TryGetValue(cursor, out var index) ? index - 1 : -1;
            }

            var page = new List<LedgerEntry>(Math.Min(limit, Math.Max(start + 1, 0)));
            for (var i = start; i >= 0 && page.Count < limit; i--)
            {
                page.Add(state.Ledger[i]);
            }

            var next = page.Count == limit && state.LedgerIndex[page[^1].Id] > 0 ? page[^1].Id : null;
            return ValueTask.FromResult(new LedgerPage(page, next));
        }
    }

    public ValueTask<int> ExpireReservationsAsync(DateTimeOffset now, DateTimeOffset createdBefore, int maxCount, CancellationToken cancellationToken = default)
    {
        var expired = 0;
        foreach (var state in _accounts.Values)
        {
            lock (state)
            {
                foreach (var reservation in state.Reservations.Values.ToList())
                {
                    if (expired >= maxCount)
                    {
                        return ValueTask.FromResult(expired);
                    }

                    if (reservation.State == ReservationState.Active && (reservation.ExpiresAt <= now || reservation.CreatedAt <= createdBefore))
                    {
                        state.Reservations[reservation.Id] = reservation with { State = ReservationState.Expired };
                        state.Balance = state.Balance with { Reserved = state.Balance.Reserved - reservation.Amount };
                        expired++;
                    }
                }
            }
        }

        return ValueTask.FromResult(expired);
    }

    internal static string SettleKey(string reservationId) => "settle:" + reservationId;

    private static LedgerEntry Append(AccountState state, LedgerEntry entry)
    {
        state.LedgerIndex[entry.Id] = state.Ledger.Count;
        state.Ledger.Add(entry);
        state.LedgerByKey[entry.IdempotencyKey] = entry;
        state.Balance = state.Balance with { Balance = entry.BalanceAfter };
        return entry;
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

        public List<LedgerEntry> Ledger { get; } = [];

        public Dictionary<string, int> LedgerIndex { get; } = new(StringComparer.Ordinal);

        public Dictionary<string, LedgerEntry> LedgerByKey { get; } = new(StringComparer.Ordinal);

        public Dictionary<string, CreditReservation> Reservations { get; } = new(StringComparer.Ordinal);

        public Dictionary<string, string> ReservationsByKey { get; } = new(StringComparer.Ordinal);
    }
}
