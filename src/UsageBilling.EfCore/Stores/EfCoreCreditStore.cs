using System.Globalization;
using Microsoft.EntityFrameworkCore;

namespace UsageBilling.EntityFrameworkCore;

/// <summary>
/// The Entity Framework Core <see cref="ICreditStore"/>. Every money move is one database transaction of conditional
/// statements (<see cref="CreditStatements"/>): the database, never this process, decides whether a hold fits the
/// balance and which of two concurrent settles wins. Idempotency rests on unique indexes: a duplicate insert does
/// nothing (<c>ON CONFLICT DO NOTHING</c>), the transaction rolls back, and the existing row is returned.
/// </summary>
internal sealed class EfCoreCreditStore<TContext> : ICreditStore where TContext : DbContext
{
    // A reservation that changes state between our read and our write sends us round again; a few rounds always settle it.
    private const int MaxRounds = 16;

    private readonly BillingDatabase<TContext> _database;
    private CreditStatements? _statements;

    public EfCoreCreditStore(BillingDatabase<TContext> database) => _database = database;

    public ValueTask<CreditBalance> GetBalanceAsync(string accountId, CancellationToken cancellationToken = default)
        => _database.ReadAsync(static async (context, _, state) =>
        {
            var row = await context.Set<CreditBalanceEntity>().AsNoTracking()
                .FirstOrDefaultAsync(b => b.AccountId == state.accountId, state.cancellationToken).ConfigureAwait(false);
            return row is null ? default : new CreditBalance(new Money(row.Balance), new Money(row.Reserved));
        }, (accountId, cancellationToken), cancellationToken);

    public async ValueTask<ReserveResult> ReserveAsync(CreditReservationRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        for (var round = 0; round < MaxRounds; round++)
        {
            // The common case first: a new key. The insert finds an existing reservation through the unique index.
            var result = await _database.WriteAsync((transaction, ct) => HoldNewAsync(transaction, request, ct), cancellationToken).ConfigureAwait(false);
            if (result is null)
            {
                var existing = await _database.ReadAsync(
                    static (context, _, state) => context.Set<CreditReservationEntity>().AsNoTracking()
                        .FirstOrDefaultAsync(r => r.AccountId == state.AccountId && r.IdempotencyKey == state.IdempotencyKey, state.cancellationToken),
                    (request.AccountId, request.IdempotencyKey, cancellationToken), cancellationToken).ConfigureAwait(false);
                if (existing is null)
                {
                    continue;
                }

                // Released, expired or settled is final: the same key never holds again.
                var balance = await GetBalanceAsync(request.AccountId, cancellationToken).ConfigureAwait(false);
                return new ReserveResult(ReserveStatus.Duplicate, existing.ToReservation(), balance);
            }

            return result.Status == ReserveStatus.InsufficientCredit
                ? result with { Balance = await GetBalanceAsync(request.AccountId, cancellationToken).ConfigureAwait(false) }
                : result;
        }

        throw new InvalidOperationException($"The reservation '{request.IdempotencyKey}' of account '{request.AccountId}' kept changing while it was being reserved.");
    }

    public async ValueTask<SettleResult> SettleAsync(string reservationId, Money actualAmount, DateTimeOffset now, CancellationToken cancellationToken = default)
    {
        for (var round = 0; round < MaxRounds; round++)
        {
            var settled = await _database.WriteAsync((transaction, ct) => SettleOnceAsync(transaction, reservationId, actualAmount, now, ct), cancellationToken).ConfigureAwait(false);
            if (settled is not null)
            {
                return settled;
            }

            // Neither active nor expired: find out why.
            var reservation = await FindReservationAsync(reservationId, cancellationToken).ConfigureAwait(false);
            switch (reservation?.State)
            {
                case null:
                case ReservationState.Released:
                    return new SettleResult(SettleStatus.NotActive, null);
                case ReservationState.Settled:
                    var previous = await FindLedgerEntryAsync(reservation.AccountId, SettleKey(reservationId), cancellationToken).ConfigureAwait(false);
                    return new SettleResult(SettleStatus.AlreadySettled, previous);
            }

            // Expired between the two conditional updates: try again from the new state.
        }

        throw new InvalidOperationException($"The reservation '{reservationId}' kept changing while it was being settled.");
    }

    public ValueTask<bool> ReleaseAsync(string reservationId, DateTimeOffset now, CancellationToken cancellationToken = default)
        => _database.WriteAsync(async (transaction, ct) =>
        {
            var statements = Statements(transaction.Schema);
            if (await statements.ReleaseAsync(transaction, reservationId, ct).ConfigureAwait(false) is not { } released)
            {
                return false;
            }

            await statements.ReleaseHoldAsync(transaction, released.AccountId, released.Amount, ct).ConfigureAwait(false);
            await transaction.CommitAsync(ct).ConfigureAwait(false);
            return true;
        }, cancellationToken);

    public ValueTask<CreditReservation?> FindReservationAsync(string reservationId, CancellationToken cancellationToken = default)
        => _database.ReadAsync(static async (context, _, state) =>
            (await context.Set<CreditReservationEntity>().AsNoTracking()
                .FirstOrDefaultAsync(r => r.Id == state.reservationId, state.cancellationToken).ConfigureAwait(false))?.ToReservation(),
            (reservationId, cancellationToken), cancellationToken);

    public async ValueTask<PostResult> PostAsync(LedgerPostRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);

        // A replay is answered without touching the balance row.
        if (await FindLedgerEntryAsync(request.AccountId, request.IdempotencyKey, cancellationToken).ConfigureAwait(false) is { } replayed)
        {
            return new PostResult(PostStatus.Duplicate, replayed);
        }

        // No balance can absorb a move this large (the statement's bounds would not even fit in 64 bits).
        if (!CreditBalance.IsWithinLimit(Money.Zero, new Money(request.Amount.Nanos / 2)))
        {
            return new PostResult(PostStatus.LimitExceeded, null);
        }

        var posted = await _database.WriteAsync((transaction, ct) => PostOnceAsync(transaction, request, ct), cancellationToken).ConfigureAwait(false);
        if (posted is not null)
        {
            return posted;
        }

        // Rolled back: a concurrent post with the same key won, the balance would pass its limit, or the available balance does not cover the move.
        if (await FindLedgerEntryAsync(request.AccountId, request.IdempotencyKey, cancellationToken).ConfigureAwait(false) is { } existing)
        {
            return new PostResult(PostStatus.Duplicate, existing);
        }

        var balance = await GetBalanceAsync(request.AccountId, cancellationToken).ConfigureAwait(false);
        return new PostResult(CreditBalance.IsWithinLimit(balance.Balance, request.Amount) ? PostStatus.InsufficientCredit : PostStatus.LimitExceeded, null);
    }

    public ValueTask<LedgerPage> GetLedgerAsync(string accountId, int limit, string? cursor, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        long? before = null;
        if (cursor is not null)
        {
            // The cursor is the sequence number of the last entry of the previous page; one that is not ours reads as "nothing older".
            if (!long.TryParse(cursor, NumberStyles.None, CultureInfo.InvariantCulture, out var sequence))
            {
                return ValueTask.FromResult(new LedgerPage([], null));
            }

            before = sequence;
        }

        return _database.ReadAsync(static async (context, _, state) =>
        {
            var query = context.Set<LedgerEntryEntity>().AsNoTracking().Where(e => e.AccountId == state.accountId);
            if (state.before is { } sequence)
            {
                query = query.Where(e => e.Sequence < sequence);
            }

            var rows = await query.OrderByDescending(e => e.Sequence).Take(Math.Min(state.limit, int.MaxValue - 1) + 1).ToListAsync(state.cancellationToken).ConfigureAwait(false);
            var next = rows.Count > state.limit ? rows[state.limit - 1].Sequence.ToString(CultureInfo.InvariantCulture) : null;
            return new LedgerPage(rows.Take(state.limit).Select(e => e.ToEntry()).ToList(), next);
        }, (accountId, limit, before, cancellationToken), cancellationToken);
    }

    public ValueTask<int> ExpireReservationsAsync(DateTimeOffset now, DateTimeOffset createdBefore, int maxCount, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxCount, 1);
        return _database.WriteAsync<int>(async (transaction, ct) =>
        {
            var statements = Statements(transaction.Schema);
            var expired = await statements.ExpireDueAsync(transaction, StoredTime.ToTicks(now), StoredTime.ToTicks(createdBefore), maxCount, ct).ConfigureAwait(false);

            // Balance rows in a fixed order, so that two sweepers on two instances cannot deadlock.
            foreach (var account in expired.GroupBy(e => e.AccountId, StringComparer.Ordinal).OrderBy(g => g.Key, StringComparer.Ordinal))
            {
                await statements.ReleaseHoldAsync(transaction, account.Key, account.Sum(e => e.Amount), ct).ConfigureAwait(false);
            }

            await transaction.CommitAsync(ct).ConfigureAwait(false);
            return expired.Count;
        }, cancellationToken);
    }

    internal static string SettleKey(string reservationId) => "settle:" + reservationId;

    /// <summary>The ledger entry of a settle: <paramref name="charge"/> taken from the account, keyed by the reservation so that it is written once.</summary>
    internal static LedgerEntry ChargeEntry(string reservationId, string accountId, Money charge, long balanceAfter, string? reference, DateTimeOffset now) => new()
    {
        Id = reservationId.Replace("res_", "led_", StringComparison.Ordinal),
        AccountId = accountId,
        Kind = LedgerEntryKind.Charge,
        Amount = -charge,
        BalanceAfter = new Money(balanceAfter),
        IdempotencyKey = SettleKey(reservationId),
        ReservationId = reservationId,
        Reference = reference,
        CreatedAt = now,
    };

    /// <summary>Inserts the reservation, then holds its amount. Null when a reservation with the same key exists.</summary>
    private async Task<ReserveResult?> HoldNewAsync(BillingTransaction transaction, CreditReservationRequest request, CancellationToken cancellationToken)
    {
        var statements = Statements(transaction.Schema);
        if (!await statements.InsertReservationAsync(transaction, request, cancellationToken).ConfigureAwait(false))
        {
            return null;
        }

        // The balance row exists for every account that ever had money; only a free call on an account without one
        // needs it made (no per-call INSERT on the hot path).
        var balance = await statements.HoldIfAvailableAsync(transaction, request.AccountId, request.Amount.Nanos, cancellationToken).ConfigureAwait(false);
        if (balance is null && request.Amount.IsZero)
        {
            await statements.EnsureBalanceAsync(transaction, request.AccountId, cancellationToken).ConfigureAwait(false);
            balance = await statements.HoldIfAvailableAsync(transaction, request.AccountId, 0, cancellationToken).ConfigureAwait(false);
        }

        if (balance is null)
        {
            return new ReserveResult(ReserveStatus.InsufficientCredit, null);
        }

        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
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
        return new ReserveResult(ReserveStatus.Reserved, reservation, balance.Value);
    }

    /// <summary>Settles an active, else an expired, reservation. Null when it is neither.</summary>
    private async Task<SettleResult?> SettleOnceAsync(BillingTransaction transaction, string reservationId, Money actualAmount, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var statements = Statements(transaction.Schema);
        var charge = actualAmount.Nanos;

        // An expired hold was already taken off Reserved by the sweeper; the call still happened, so it is charged.
        var won = await statements.SettleFromAsync(transaction, reservationId, CreditStatements.Active, charge, cancellationToken).ConfigureAwait(false);
        var held = won?.Amount ?? 0;
        won ??= await statements.SettleFromAsync(transaction, reservationId, CreditStatements.Expired, charge, cancellationToken).ConfigureAwait(false);
        if (won is not { } reservation)
        {
            return null;
        }

        var balanceAfter = await statements.ChargeAndReleaseHoldAsync(transaction, reservation.AccountId, held, charge, cancellationToken).ConfigureAwait(false)
            ?? throw new InvalidOperationException($"Account '{reservation.AccountId}' of reservation '{reservationId}' has no balance row.");

        LedgerEntry? entry = null;
        if (!actualAmount.IsZero)
        {
            entry = ChargeEntry(reservationId, reservation.AccountId, actualAmount, balanceAfter, reservation.Reference, now);

            // The state transition above lets one settle through; a charge already there means the data was changed by hand.
            if (!await statements.InsertLedgerEntryAsync(transaction, entry, cancellationToken).ConfigureAwait(false))
            {
                throw new InvalidOperationException($"Reservation '{reservationId}' was active but already has a charge in the ledger.");
            }
        }

        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        return new SettleResult(SettleStatus.Settled, entry);
    }

    /// <summary>Moves the balance, then writes the entry with the balance that move returned. Null when refused or when a concurrent post with the same key won.</summary>
    private async Task<PostResult?> PostOnceAsync(BillingTransaction transaction, LedgerPostRequest request, CancellationToken cancellationToken)
    {
        var statements = Statements(transaction.Schema);
        await statements.EnsureBalanceAsync(transaction, request.AccountId, cancellationToken).ConfigureAwait(false);
        var requireAvailable = request.RequireAvailableBalance && request.Amount.IsNegative;
        if (await statements.PostAsync(transaction, request.AccountId, request.Amount.Nanos, requireAvailable, cancellationToken).ConfigureAwait(false) is not { } balanceAfter)
        {
            return null;
        }

        var entry = new LedgerEntry
        {
            Id = request.EntryId,
            AccountId = request.AccountId,
            Kind = request.Kind,
            Amount = request.Amount,
            BalanceAfter = new Money(balanceAfter),
            IdempotencyKey = request.IdempotencyKey,
            Reference = request.Reference,
            Reason = request.Reason,
            CreatedAt = request.CreatedAt,
        };
        if (!await statements.InsertLedgerEntryAsync(transaction, entry, cancellationToken).ConfigureAwait(false))
        {
            return null;
        }

        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        return new PostResult(PostStatus.Posted, entry);
    }

    private ValueTask<LedgerEntry?> FindLedgerEntryAsync(string accountId, string idempotencyKey, CancellationToken cancellationToken)
        => _database.ReadAsync(static async (context, _, state) =>
            (await context.Set<LedgerEntryEntity>().AsNoTracking()
                .FirstOrDefaultAsync(e => e.AccountId == state.accountId && e.IdempotencyKey == state.idempotencyKey, state.cancellationToken).ConfigureAwait(false))?.ToEntry(),
            (accountId, idempotencyKey, cancellationToken), cancellationToken);

    private CreditStatements Statements(BillingSchema schema) => _statements ??= new CreditStatements(schema);
}
