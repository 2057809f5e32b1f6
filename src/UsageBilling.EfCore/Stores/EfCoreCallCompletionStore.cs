using Microsoft.EntityFrameworkCore;

namespace UsageBilling.EntityFrameworkCore;

/// <summary>
/// The Entity Framework Core <see cref="ICallCompletionStore"/>: a batch of completed calls in ONE transaction —
/// every reservation's state change, one balance update per account (the batch's holds and charges summed), the
/// charges' ledger entries, every usage record and its key's last use — so that a committed charge always has its record and a crash
/// before the commit leaves neither. Statements run in the store's lock order (reservations, balances in account
/// order, ledger), so batches, reservations and the sweeper cannot deadlock on each other.
/// </summary>
internal sealed class EfCoreCallCompletionStore<TContext> : ICallCompletionStore where TContext : DbContext
{
    /// <summary>How stale a key's last use may be: a key used all the time is updated at most this often by one instance.</summary>
    internal static readonly TimeSpan TouchInterval = TimeSpan.FromSeconds(1);

    private const int MaxRememberedKeys = 100_000;

    private readonly BillingDatabase<TContext> _database;
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, DateTimeOffset> _lastTouched = new(StringComparer.Ordinal);
    private CreditStatements? _statements;

    public EfCoreCallCompletionStore(BillingDatabase<TContext> database) => _database = database;

    public async ValueTask<IReadOnlyList<CompletionResult>> CompleteAsync(IReadOnlyList<CallCompletion> completions, DateTimeOffset now,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(completions);
        if (completions.Count == 0)
        {
            return [];
        }

        return await _database.WriteAsync((transaction, ct) => WriteOnceAsync(transaction, completions, now, ct), cancellationToken).ConfigureAwait(false);
    }

    private async Task<IReadOnlyList<CompletionResult>> WriteOnceAsync(BillingTransaction transaction, IReadOnlyList<CallCompletion> completions, DateTimeOffset now,
        CancellationToken cancellationToken)
    {
        var statements = _statements ??= new CreditStatements(transaction.Schema);
        var results = new CompletionResult[completions.Count];

        // 1. Every reservation's state change, in one batch. A settle is tried from active, then from expired (an
        // expired hold was already taken off Reserved by the sweeper; the call still happened, so it is charged).
        var moved = new Moved?[completions.Count];
        var states = new StatementBatch(transaction);
        for (var i = 0; i < completions.Count; i++)
        {
            var index = i;
            var id = completions[i].ReservationId;
            if (completions[i].Charge is { } charge)
            {
                foreach (var from in (ReadOnlySpan<int>)[CreditStatements.Active, CreditStatements.Expired])
                {
                    var held = from == CreditStatements.Active;
                    states.Add(statements.SettleFromSql, async (reader, ct) =>
                    {
                        if (await reader.ReadAsync(ct).ConfigureAwait(false))
                        {
                            moved[index] = new Moved(reader.GetString(0), held ? reader.GetInt64(1) : 0, reader.IsDBNull(2) ? null : reader.GetString(2));
                        }
                    }).With("@id", id).With("@from", from).With("@charge", charge.Nanos);
                }
            }
            else
            {
                states.Add(statements.ReleaseSql, async (reader, ct) =>
                {
                    if (await reader.ReadAsync(ct).ConfigureAwait(false))
                    {
                        moved[index] = new Moved(reader.GetString(0), reader.GetInt64(1), null);
                    }
                }).With("@id", id);
            }
        }

        await states.ExecuteAsync(cancellationToken).ConfigureAwait(false);

        var moves = new Dictionary<string, BalanceMove>(StringComparer.Ordinal);
        var charges = new List<Charge>();
        for (var i = 0; i < completions.Count; i++)
        {
            var completion = completions[i];
            if (moved[i] is not { } move)
            {
                var done = completion.Charge is null ? ReservationState.Released : ReservationState.Settled;
                results[i] = await EarlierAsync(statements, transaction, completion.ReservationId, done, cancellationToken).ConfigureAwait(false);
                continue;
            }

            var charge = completion.Charge ?? Money.Zero;
            Move(moves, move.AccountId, move.Held, charge.Nanos);
            if (!charge.IsZero)
            {
                charges.Add(new Charge(i, completion.ReservationId, move.AccountId, charge, move.Reference));
            }

            results[i] = new CompletionResult(CompletionStatus.Completed);
        }

        // 2. One update per account, in account order; each returns the balance after all of the batch's charges on it.
        var balances = new Dictionary<string, long>(StringComparer.Ordinal);
        var balanceUpdates = new StatementBatch(transaction);
        foreach (var (accountId, move) in moves.OrderBy(m => m.Key, StringComparer.Ordinal))
        {
            balanceUpdates.Add(statements.ChargeAndReleaseHoldSql, async (reader, ct) =>
            {
                balances[accountId] = await reader.ReadAsync(ct).ConfigureAwait(false)
                    ? reader.GetInt64(0)
                    : throw new InvalidOperationException($"Account '{accountId}' has reservations but no balance row.");
            }).With("@account", accountId).With("@held", move.Held).With("@charge", move.Charged);
        }

        await balanceUpdates.ExecuteAsync(cancellationToken).ConfigureAwait(false);

        // 3. The ledger entries. Each one's balance after: the account's final balance, walked back through the
        // batch's later charges.
        var entries = new StatementBatch(transaction);
        for (var c = charges.Count - 1; c >= 0; c--)
        {
            var charge = charges[c];
            var balanceAfter = balances[charge.AccountId];
            balances[charge.AccountId] = balanceAfter + charge.Amount.Nanos;
            var entry = EfCoreCreditStore<TContext>.ChargeEntry(charge.ReservationId, charge.AccountId, charge.Amount, balanceAfter, charge.Reference, now);
            results[charge.Index] = new CompletionResult(CompletionStatus.Completed, entry);
        }

        foreach (var charge in charges)
        {
            // The state transition above lets one settle through; a charge already there means the data was changed by hand.
            CreditStatements.BindLedgerEntry(entries.Add(statements.InsertLedgerEntryReturningSql, async (reader, ct) =>
            {
                if (!await reader.ReadAsync(ct).ConfigureAwait(false))
                {
                    throw new InvalidOperationException($"Reservation '{charge.ReservationId}' was active but already has a charge in the ledger.");
                }
            }), results[charge.Index].Entry!);
        }

        await entries.ExecuteAsync(cancellationToken).ConfigureAwait(false);

        var seen = new HashSet<string>(StringComparer.Ordinal);
        var records = new List<UsageRecord>(completions.Count);
        for (var i = 0; i < completions.Count; i++)
        {
            if (completions[i].RecordFor(results[i].Status) is { } record && seen.Add(record.RequestId))
            {
                records.Add(record);
            }
        }

        await EfCoreUsageStore<TContext>.InsertAsync(transaction, records, cancellationToken).ConfigureAwait(false);

        // The keys' last use, as the usage log sets it for records it writes: one update per key, in key order, and
        // not again within TouchInterval of the last one this store made (a busy key is not updated on every batch).
        var touched = new List<(string KeyId, DateTimeOffset UsedAt)>();
        foreach (var key in records.Where(r => r.KeyId is not null).GroupBy(r => r.KeyId!, StringComparer.Ordinal).OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            var usedAt = key.Max(r => r.Timestamp);
            if (!_lastTouched.TryGetValue(key.Key, out var last) || usedAt - last >= TouchInterval)
            {
                await EfCoreApiKeyStore<TContext>.TouchAsync(transaction, key.Key, usedAt, cancellationToken).ConfigureAwait(false);
                touched.Add((key.Key, usedAt));
            }
        }

        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        if (_lastTouched.Count > MaxRememberedKeys)
        {
            // Forgetting only costs an update per key on its next batch.
            _lastTouched.Clear();
        }

        foreach (var (keyId, usedAt) in touched)
        {
            _lastTouched[keyId] = usedAt;
        }

        return results;
    }

    /// <summary>Why a reservation did not move: already in <paramref name="done"/> (an earlier write of this completion), or not active.</summary>
    private static async Task<CompletionResult> EarlierAsync(CreditStatements statements, BillingTransaction transaction, string reservationId, ReservationState done,
        CancellationToken cancellationToken)
        => new(await statements.StateOfAsync(transaction, reservationId, cancellationToken).ConfigureAwait(false) == done
            ? CompletionStatus.AlreadyCompleted
            : CompletionStatus.NotActive);

    private static void Move(Dictionary<string, BalanceMove> moves, string accountId, long held, long charged)
    {
        var move = moves.GetValueOrDefault(accountId);
        moves[accountId] = new BalanceMove(checked(move.Held + held), checked(move.Charged + charged));
    }

    private readonly record struct BalanceMove(long Held, long Charged);

    private sealed record Charge(int Index, string ReservationId, string AccountId, Money Amount, string? Reference);

    /// <summary>A reservation this batch moved: its account, the hold it still had, and its reference.</summary>
    private readonly record struct Moved(string AccountId, long Held, string? Reference);
}
