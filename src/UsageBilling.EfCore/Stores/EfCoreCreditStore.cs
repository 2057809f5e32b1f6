using System.Data.Common;
using System.Globalization;
using Microsoft.EntityFrameworkCore;

namespace UsageBilling.EntityFrameworkCore;

/// <summary>
/// The Entity Framework Core <see cref="ICreditStore"/>. Every money move is one database transaction of conditional
/// statements (see <see cref="CreditStoreSql"/>): the database, never this process, decides whether a hold fits the
/// balance and which of two concurrent settles wins. Idempotency rests on unique indexes: a duplicate insert does
/// nothing (<c>ON CONFLICT DO NOTHING</c>), the transaction rolls back, and the existing row is returned.
/// </summary>
internal sealed class EfCoreCreditStore<TContext> : ICreditStore where TContext : DbContext
{
    // A reservation that changes state between our read and our write sends us round again; a few rounds always settle it.
    private const int MaxRounds = 16;

    private readonly BillingDatabase<TContext> _database;
    private CreditStoreSql? _sql;

    public EfCoreCreditStore(BillingDatabase<TContext> database) => _database = database;

    public ValueTask<CreditBalance> GetBalanceAsync(string accountId, CancellationToken cancellationToken = default)
        => _database.ReadAsync(static (context, _, state) => ReadBalanceAsync(context, state.accountId, state.cancellationToken),
            (accountId, cancellationToken), cancellationToken);

    public async ValueTask<ReserveResult> ReserveAsync(CreditReservationRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        for (var round = 0; round < MaxRounds; round++)
        {
            var existing = await _database.ReadAsync(
                static (context, _, state) => context.Set<CreditReservationEntity>().AsNoTracking()
                    .FirstOrDefaultAsync(r => r.AccountId == state.AccountId && r.IdempotencyKey == state.IdempotencyKey, state.cancellationToken),
                (request.AccountId, request.IdempotencyKey, cancellationToken), cancellationToken).ConfigureAwait(false);

            ReserveResult? result;
            if (existing is null)
            {
                result = await _database.WriteAsync((transaction, ct) => HoldNewAsync(transaction, request, ct), cancellationToken).ConfigureAwait(false);
            }
            else
            {
                var revivable = existing.State is CreditStoreSql.Released or CreditStoreSql.Expired
                    && string.Equals(existing.Reference, request.Reference, StringComparison.Ordinal);
                if (!revivable)
                {
                    return new ReserveResult(ReserveStatus.Duplicate, existing.ToReservation(), await GetBalanceAsync(request.AccountId, cancellationToken).ConfigureAwait(false));
                }

                result = await _database.WriteAsync((transaction, ct) => ReviveAsync(transaction, existing, request, ct), cancellationToken).ConfigureAwait(false);
            }

            if (result is not null)
            {
                return result.Status == ReserveStatus.InsufficientCredit
                    ? result with { Balance = await GetBalanceAsync(request.AccountId, cancellationToken).ConfigureAwait(false) }
                    : result;
            }
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

            // Revived or expired in between: try again.
        }

        throw new InvalidOperationException($"The reservation '{reservationId}' kept changing while it was being settled.");
    }

    public ValueTask<bool> ReleaseAsync(string reservationId, DateTimeOffset now, CancellationToken cancellationToken = default)
        => _database.WriteAsync(async (transaction, ct) =>
        {
            var sql = Sql(transaction.Schema);
            string accountId;
            long amount;
            await using (var release = transaction.Command(sql.Release).With("@id", reservationId))
            await using (var reader = await release.ExecuteReaderAsync(ct).ConfigureAwait(false))
            {
                if (!await reader.ReadAsync(ct).ConfigureAwait(false))
                {
                    return false;
                }

                (accountId, amount) = (reader.GetString(0), reader.GetInt64(1));
            }

            await using (var hold = transaction.Command(sql.ReleaseHold).With("@account", accountId).With("@amount", amount))
            {
                await hold.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
            }

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

        var posted = await _database.WriteAsync((transaction, ct) => PostOnceAsync(transaction, request, ct), cancellationToken).ConfigureAwait(false);
        if (posted is not null)
        {
            return posted;
        }

        // Rolled back: either a concurrent post with the same key won, or the available balance does not cover the move.
        return await FindLedgerEntryAsync(request.AccountId, request.IdempotencyKey, cancellationToken).ConfigureAwait(false) is { } existing
            ? new PostResult(PostStatus.Duplicate, existing)
            : new PostResult(PostStatus.InsufficientCredit, null);
    }

    public ValueTask<LedgerPage> GetLedgerAsync(string accountId, int limit, string? cursor, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        long? before = null;
        if (cursor is not null)
        {
            // The cursor is the sequence number of the last entry of the previous page; an unknown one reads as "nothing older".
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

            var rows = await query.OrderByDescending(e => e.Sequence).Take(state.limit + 1).ToListAsync(state.cancellationToken).ConfigureAwait(false);
            var next = rows.Count > state.limit ? rows[state.limit - 1].Sequence.ToString(CultureInfo.InvariantCulture) : null;
            var entries = rows.Take(state.limit).Select(e => e.ToEntry()).ToList();
            return new LedgerPage(entries, next);
        }, (accountId, limit, before, cancellationToken), cancellationToken);
    }

    public ValueTask<int> ExpireReservationsAsync(DateTimeOffset now, int maxCount, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxCount, 1);
        return _database.WriteAsync(async (transaction, ct) =>
        {
            var sql = Sql(transaction.Schema);
            var holds = new Dictionary<string, long>(StringComparer.Ordinal);
            var count = 0;
            await using (var expire = transaction.Command(sql.ExpireDue).With("@now", StoredTime.ToTicks(now)).With("@max", maxCount))
            await using (var reader = await expire.ExecuteReaderAsync(ct).ConfigureAwait(false))
            {
                while (await reader.ReadAsync(ct).ConfigureAwait(false))
                {
                    var account = reader.GetString(0);
                    holds[account] = holds.GetValueOrDefault(account) + reader.GetInt64(1);
                    count++;
                }
            }

            // Balance rows in a fixed order, so two sweepers on two instances cannot deadlock.
            foreach (var (account, amount) in holds.OrderBy(h => h.Key, StringComparer.Ordinal))
            {
                await using var hold = transaction.Command(sql.ReleaseHold).With("@account", account).With("@amount", amount);
                await hold.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
            }

            await transaction.CommitAsync(ct).ConfigureAwait(false);
            return count;
        }, cancellationToken);
    }

    internal static string SettleKey(string reservationId) => "settle:" + reservationId;

    /// <summary>Inserts the reservation, then holds its amount. Null when a concurrent reserve with the same key won.</summary>
    private async Task<ReserveResult?> HoldNewAsync(BillingTransaction transaction, CreditReservationRequest request, CancellationToken cancellationToken)
    {
        var sql = Sql(transaction.Schema);
        await using (var insert = transaction.Command(sql.InsertReservation)
            .With("@id", request.ReservationId)
            .With("@account", request.AccountId)
            .With("@amount", request.Amount.Nanos)
            .With("@key", request.IdempotencyKey)
            .With("@reference", request.Reference)
            .With("@created", StoredTime.ToTicks(request.CreatedAt))
            .With("@expires", StoredTime.ToTicks(request.ExpiresAt)))
        {
            if (await insert.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false) == 0)
            {
                return null;
            }
        }

        await EnsureBalanceAsync(transaction, sql, request.AccountId, cancellationToken).ConfigureAwait(false);
        if (await HoldAsync(transaction, sql, request.AccountId, request.Amount.Nanos, cancellationToken).ConfigureAwait(false) is not { } balance)
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
        return new ReserveResult(ReserveStatus.Reserved, reservation, balance);
    }

    /// <summary>Makes a released or expired reservation active again with the new amount. Null when it changed state meanwhile.</summary>
    private async Task<ReserveResult?> ReviveAsync(BillingTransaction transaction, CreditReservationEntity existing, CreditReservationRequest request, CancellationToken cancellationToken)
    {
        var sql = Sql(transaction.Schema);
        await using (var revive = transaction.Command(sql.Revive)
            .With("@id", existing.Id)
            .With("@amount", request.Amount.Nanos)
            .With("@created", StoredTime.ToTicks(request.CreatedAt))
            .With("@expires", StoredTime.ToTicks(request.ExpiresAt)))
        {
            if (await revive.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false) == 0)
            {
                return null;
            }
        }

        if (await HoldAsync(transaction, sql, existing.AccountId, request.Amount.Nanos, cancellationToken).ConfigureAwait(false) is not { } balance)
        {
            return new ReserveResult(ReserveStatus.InsufficientCredit, null);
        }

        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        var revived = existing.ToReservation() with
        {
            Amount = request.Amount,
            State = ReservationState.Active,
            CreatedAt = request.CreatedAt,
            ExpiresAt = request.ExpiresAt,
            SettledAmount = null,
        };
        return new ReserveResult(ReserveStatus.Reserved, revived, balance);
    }

    /// <summary>Settles an active, else an expired, reservation. Null when it is neither.</summary>
    private async Task<SettleResult?> SettleOnceAsync(BillingTransaction transaction, string reservationId, Money actualAmount, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var sql = Sql(transaction.Schema);

        // An expired hold was already taken off Reserved by the sweeper; the call still happened, so it is charged.
        var won = await TransitionToSettledAsync(transaction, sql, reservationId, CreditStoreSql.Active, actualAmount, cancellationToken).ConfigureAwait(false);
        var held = won?.Amount ?? 0;
        won ??= await TransitionToSettledAsync(transaction, sql, reservationId, CreditStoreSql.Expired, actualAmount, cancellationToken).ConfigureAwait(false);
        if (won is not { } reservation)
        {
            return null;
        }

        long balanceAfter;
        await using (var charge = transaction.Command(sql.ChargeAndReleaseHold)
            .With("@account", reservation.AccountId)
            .With("@held", held)
            .With("@charge", actualAmount.Nanos))
        {
            balanceAfter = await ReadSingleInt64Async(charge, cancellationToken).ConfigureAwait(false)
                ?? throw new InvalidOperationException($"Account '{reservation.AccountId}' of reservation '{reservationId}' has no balance row.");
        }

        LedgerEntry? entry = null;
        if (!actualAmount.IsZero)
        {
            entry = new LedgerEntry
            {
                Id = reservationId.Replace("res_", "led_", StringComparison.Ordinal),
                AccountId = reservation.AccountId,
                Kind = LedgerEntryKind.Charge,
                Amount = -actualAmount,
                BalanceAfter = new Money(balanceAfter),
                IdempotencyKey = SettleKey(reservationId),
                ReservationId = reservationId,
                Reference = reservation.Reference,
                CreatedAt = now,
            };
            if (!await InsertLedgerEntryAsync(transaction, sql, entry, cancellationToken).ConfigureAwait(false))
            {
                throw new InvalidOperationException($"Reservation '{reservationId}' was settled once but already has a charge.");
            }
        }

        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        return new SettleResult(SettleStatus.Settled, entry);
    }

    /// <summary>Moves the balance and writes the entry. Null when the move is refused or a concurrent post with the same key won.</summary>
    private async Task<PostResult?> PostOnceAsync(BillingTransaction transaction, LedgerPostRequest request, CancellationToken cancellationToken)
    {
        var sql = Sql(transaction.Schema);
        await EnsureBalanceAsync(transaction, sql, request.AccountId, cancellationToken).ConfigureAwait(false);
        var guarded = request.RequireAvailableBalance && request.Amount.IsNegative;
        long balanceAfter;
        await using (var post = transaction.Command(guarded ? sql.PostIfAvailable : sql.Post)
            .With("@account", request.AccountId)
            .With("@amount", request.Amount.Nanos))
        {
            if (await ReadSingleInt64Async(post, cancellationToken).ConfigureAwait(false) is not { } after)
            {
                return null;
            }

            balanceAfter = after;
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
        if (!await InsertLedgerEntryAsync(transaction, sql, entry, cancellationToken).ConfigureAwait(false))
        {
            return null;
        }

        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        return new PostResult(PostStatus.Posted, entry);
    }

    private static async Task<(string AccountId, long Amount, string? Reference)?> TransitionToSettledAsync(
        BillingTransaction transaction, CreditStoreSql sql, string reservationId, int from, Money actualAmount, CancellationToken cancellationToken)
    {
        await using var settle = transaction.Command(sql.SettleFrom).With("@id", reservationId).With("@from", from).With("@charge", actualAmount.Nanos);
        await using var reader = await settle.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        if (!await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            return null;
        }

        return (reader.GetString(0), reader.GetInt64(1), reader.IsDBNull(2) ? null : reader.GetString(2));
    }

    private static async Task EnsureBalanceAsync(BillingTransaction transaction, CreditStoreSql sql, string accountId, CancellationToken cancellationToken)
    {
        await using var ensure = transaction.Command(sql.EnsureBalance).With("@account", accountId);
        await ensure.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    private static async Task<CreditBalance?> HoldAsync(BillingTransaction transaction, CreditStoreSql sql, string accountId, long amount, CancellationToken cancellationToken)
    {
        await using var hold = transaction.Command(sql.HoldIfAvailable).With("@account", accountId).With("@amount", amount);
        await using var reader = await hold.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        return await reader.ReadAsync(cancellationToken).ConfigureAwait(false)
            ? new CreditBalance(new Money(reader.GetInt64(0)), new Money(reader.GetInt64(1)))
            : null;
    }

    private static async Task<bool> InsertLedgerEntryAsync(BillingTransaction transaction, CreditStoreSql sql, LedgerEntry entry, CancellationToken cancellationToken)
    {
        await using var insert = transaction.Command(sql.InsertLedgerEntry)
            .With("@id", entry.Id)
            .With("@account", entry.AccountId)
            .With("@kind", (int)entry.Kind)
            .With("@amount", entry.Amount.Nanos)
            .With("@balanceAfter", entry.BalanceAfter.Nanos)
            .With("@key", entry.IdempotencyKey)
            .With("@reservation", entry.ReservationId)
            .With("@reference", entry.Reference)
            .With("@reason", entry.Reason)
            .With("@created", StoredTime.ToTicks(entry.CreatedAt));
        return await insert.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false) == 1;
    }

    private static async Task<long?> ReadSingleInt64Async(DbCommand command, CancellationToken cancellationToken)
    {
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        return await reader.ReadAsync(cancellationToken).ConfigureAwait(false) ? reader.GetInt64(0) : null;
    }

    private static async Task<CreditBalance> ReadBalanceAsync(TContext context, string accountId, CancellationToken cancellationToken)
    {
        var row = await context.Set<CreditBalanceEntity>().AsNoTracking()
            .FirstOrDefaultAsync(b => b.AccountId == accountId, cancellationToken).ConfigureAwait(false);
        return row is null ? default : new CreditBalance(new Money(row.Balance), new Money(row.Reserved));
    }

    private ValueTask<LedgerEntry?> FindLedgerEntryAsync(string accountId, string idempotencyKey, CancellationToken cancellationToken)
        => _database.ReadAsync(static async (context, _, state) =>
            (await context.Set<LedgerEntryEntity>().AsNoTracking()
                .FirstOrDefaultAsync(e => e.AccountId == state.accountId && e.IdempotencyKey == state.idempotencyKey, state.cancellationToken).ConfigureAwait(false))?.ToEntry(),
            (accountId, idempotencyKey, cancellationToken), cancellationToken);

    private CreditStoreSql Sql(BillingSchema schema) => _sql ??= new CreditStoreSql(schema);
}
