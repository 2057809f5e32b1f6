using System.Data.Common;
using Microsoft.EntityFrameworkCore;

namespace UsageBilling.EntityFrameworkCore;

/// <summary>
/// The Entity Framework Core <see cref="ICallCompletionStore"/>: a batch of completed calls in ONE transaction —
/// every reservation's state change, the balances (the batch's holds and charges summed per account), the charges'
/// ledger entries, the counts of the calls completed, every usage record and its key's last use — so that a committed
/// charge always has its record and its counts, and a crash before the commit leaves none of them. Each step is one
/// statement for the whole batch (<see cref="GroupStatements"/>), not one per call. Rows are taken in the store's lock
/// order (counters in key order — locked first, since which of them move is known only once the reservations have —,
/// reservations, balances in account order, ledger), so batches, admissions and the sweeper cannot deadlock on each
/// other. On PostgreSQL the calls whose holds are active are completed first by one statement that is its own transaction — one
/// round trip, commit included (<see cref="PostgresCompletionStatement"/>) — and only the others by that transaction.
/// </summary>
internal sealed class EfCoreCallCompletionStore<TContext> : ICallCompletionStore, IAsyncDisposable, IDisposable where TContext : DbContext
{
    /// <summary>How stale a key's last use may be: a key used all the time is updated at most this often by one instance.</summary>
    internal static readonly TimeSpan TouchInterval = TimeSpan.FromSeconds(1);

    private const int MaxRememberedKeys = 100_000;

    // PostgreSQL's SQLSTATEs for the two ways PostgresCompletionStatement fails on data changed by hand.
    private const string UniqueViolation = "23505";
    private const string NotNullViolation = "23502";

    private readonly BillingDatabase<TContext> _database;
    private readonly EfCoreRateLimitCounterStore<TContext> _counters;

    // One group is written at a time: its writer keeps a connection between groups (made by the database, which shares
    // it between both group writers on SQLite; disposed here).
    private HeldContext<TContext>? _held;
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, DateTimeOffset> _lastTouched = new(StringComparer.Ordinal);
    private CreditStatements? _statements;
    private GroupStatements? _group;
    private PostgresCompletionStatement? _active;

    public EfCoreCallCompletionStore(BillingDatabase<TContext> database, EfCoreRateLimitCounterStore<TContext> counters)
    {
        _database = database;
        _counters = counters;
    }

    public async ValueTask<IReadOnlyList<CompletionResult>> CompleteAsync(IReadOnlyList<CallCompletion> completions, DateTimeOffset now,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(completions);
        if (completions.Count == 0)
        {
            return [];
        }

        var writer = _held ??= await _database.GroupWriterContextAsync(GroupWriterRole.Completions, cancellationToken).ConfigureAwait(false);
        if (completions.Any(static c => c.Counts is { Count: > 0 }))
        {
            _counters.ScheduleCleanup();
        }

        if (_database.Provider != BillingProvider.PostgreSql)
        {
            return await _database.WriteAsync((transaction, ct) => WriteOnceAsync(transaction, completions, now, ct), cancellationToken, writer).ConfigureAwait(false);
        }

        // PostgreSQL: the calls whose holds are active — nearly all — in one statement that commits as it runs; the
        // others (expired, written before, named twice, unknown) in a transaction of their own afterwards.
        CompletionResult?[] results;
        try
        {
            results = await _database.WriteAsync((transaction, ct) => WriteActiveAsync(transaction, completions, now, ct), cancellationToken, writer, autocommit: true)
                .ConfigureAwait(false);
        }
        catch (DbException ex) when (ex.SqlState is UniqueViolation or NotNullViolation)
        {
            // A charge already in the ledger, or an account without a balance row: the data was changed by hand, and the
            // statement kept nothing. The transaction below finds which and says so.
            results = new CompletionResult?[completions.Count];
        }

        var rest = Enumerable.Range(0, completions.Count).Where(i => results[i] is null).ToArray();
        if (rest.Length > 0)
        {
            var others = await _database.WriteAsync((transaction, ct) => WriteOnceAsync(transaction, [.. rest.Select(i => completions[i])], now, ct), cancellationToken, writer)
                .ConfigureAwait(false);
            for (var j = 0; j < rest.Length; j++)
            {
                results[rest[j]] = others[j];
            }
        }

        return Array.ConvertAll(results, static r => r!.Value);
    }

    /// <summary>
    /// PostgreSQL: completes the calls whose holds are active, and writes their usage records and keys' last use, in one
    /// round trip that commits (<see cref="PostgresCompletionStatement"/>); null for each call it did not complete.
    /// </summary>
    private async Task<CompletionResult?[]> WriteActiveAsync(BillingTransaction transaction, IReadOnlyList<CallCompletion> completions, DateTimeOffset now,
        CancellationToken cancellationToken)
    {
        var statement = _active ??= new PostgresCompletionStatement(transaction.Schema);
        var results = new CompletionResult?[completions.Count];

        // The first completion of each reservation; a later one is answered by the other write (as already completed).
        var first = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var i = 0; i < completions.Count; i++)
        {
            first.TryAdd(completions[i].ReservationId, i);
        }

        var named = first.Values.Select(i => completions[i]).ToList();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var records = new List<UsageRecord>(named.Count);
        var recordReservations = new List<string>(named.Count);
        foreach (var completion in named)
        {
            if (completion.RecordFor(CompletionStatus.Completed) is { } record && seen.Add(record.RequestId))
            {
                records.Add(record);
                recordReservations.Add(completion.ReservationId);
            }
        }

        var batch = new StatementBatch(transaction);
        var counts = CompletionCounts.Of(named);
        _counters.AddLock(batch, counts.Keys);
        statement.Add(batch, named, records, [.. recordReservations], counts, now, async (reader, ct) =>
        {
            while (await reader.ReadAsync(ct).ConfigureAwait(false))
            {
                var index = first[reader.GetString(0)];
                var completion = completions[index];
                results[index] = reader.IsDBNull(3)
                    ? new CompletionResult(CompletionStatus.Completed)
                    : new CompletionResult(CompletionStatus.Completed, EfCoreCreditStore<TContext>.ChargeEntry(
                        completion.ReservationId, reader.GetString(1), completion.Charge!.Value, reader.GetInt64(3), reader.IsDBNull(2) ? null : reader.GetString(2), now));
            }
        });
        var touched = AddTouches(batch, records);
        var counted = new Dictionary<string, long>(StringComparer.Ordinal);
        _counters.AddRead(batch, counts.Keys, counted);
        await batch.ExecuteAsync(cancellationToken).ConfigureAwait(false);
        Touched(touched);
        for (var i = 0; i < completions.Count; i++)
        {
            // Counted only for the first completion of a reservation, the one the statement moved.
            if (results[i] is { } result && completions[i].Counts is { Count: > 0 } increments && first[completions[i].ReservationId] == i)
            {
                results[i] = result with { Counted = increments.Select(c => counted[c.Key]).ToArray() };
            }
        }

        return results;
    }

    private async Task<IReadOnlyList<CompletionResult>> WriteOnceAsync(BillingTransaction transaction, IReadOnlyList<CallCompletion> completions, DateTimeOffset now,
        CancellationToken cancellationToken)
    {
        var statements = _statements ??= new CreditStatements(transaction.Schema);
        var group = _group ??= new GroupStatements(transaction.Schema);
        var results = new CompletionResult[completions.Count];

        // 1. Every reservation's state change, in one round trip: the settles from active and the releases. A settle that
        // did not move is tried from expired in one more (an expired hold was already taken off Reserved by the sweeper;
        // the call still happened, so it is charged) — only then, since nearly every settle finds its hold active. A
        // reservation named twice in the batch moves once, for the first that names it.
        var moved = new Moved?[completions.Count];
        var settles = new Dictionary<string, int>(StringComparer.Ordinal);
        var releases = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var i = 0; i < completions.Count; i++)
        {
            (completions[i].Charge is null ? releases : settles).TryAdd(completions[i].ReservationId, i);
        }

        var states = new StatementBatch(transaction);
        _counters.AddLock(states, CompletionCounts.Of(completions).Keys);
        if (settles.Count > 0)
        {
            AddSettle(group, states, completions, settles, settles.Keys.ToArray(), moved, fromExpired: false);
        }

        if (releases.Count > 0)
        {
            group.AddRelease(states, releases.Keys.ToArray(), async (reader, ct) =>
            {
                while (await reader.ReadAsync(ct).ConfigureAwait(false))
                {
                    moved[releases[reader.GetString(0)]] = new Moved(reader.GetString(1), reader.GetInt64(2), null);
                }
            });
        }

        await states.ExecuteAsync(cancellationToken).ConfigureAwait(false);
        var notSettled = settles.Where(s => moved[s.Value] is null).Select(static s => s.Key).ToArray();
        if (notSettled.Length > 0)
        {
            var expired = new StatementBatch(transaction);
            AddSettle(group, expired, completions, settles, notSettled, moved, fromExpired: true);
            await expired.ExecuteAsync(cancellationToken).ConfigureAwait(false);
        }

        var moves = new Dictionary<string, BalanceMove>(StringComparer.Ordinal);
        var charges = new List<Charge>();
        for (var i = 0; i < completions.Count; i++)
        {
            var completion = completions[i];
            // Not a pattern variable: Stryker.NET cannot compile the mutants of a method that declares one in a condition.
            if (moved[i] is null)
            {
                var done = completion.Charge is null ? ReservationState.Released : ReservationState.Settled;
                results[i] = await EarlierAsync(statements, transaction, completion.ReservationId, done, cancellationToken).ConfigureAwait(false);
                continue;
            }

            var move = moved[i]!.Value;

            var charge = completion.Charge ?? Money.Zero;
            Move(moves, move.AccountId, move.Held, charge.Nanos);
            if (!charge.IsZero)
            {
                charges.Add(new Charge(i, completion.ReservationId, move.AccountId, charge, move.Reference));
            }

            results[i] = new CompletionResult(CompletionStatus.Completed);
        }

        // 2. Everything else in one round trip on PostgreSQL: the balances, locked in account order and updated once for
        // all (returning each one after all of the batch's charges on it); the charges' ledger entries, whose balance
        // after the database reads from the updated row plus the batch's later charges on that account; the usage
        // records; and the keys' last use.
        var rest = new StatementBatch(transaction);

        // The counts of the calls completed now (a reservation moved once, for the first completion that names it).
        var completedCounts = CompletionCounts.Of(Enumerable.Range(0, completions.Count).Where(i => moved[i] is not null).Select(i => completions[i]).ToList());
        var counted = new long[completedCounts.Increments.Length];
        if (counted.Length > 0)
        {
            _counters.AddIncrement(rest, completedCounts.Increments, counted);
        }

        var balances = new Dictionary<string, long>(StringComparer.Ordinal);
        var accounts = moves.Keys.Order(StringComparer.Ordinal).ToArray();
        if (accounts.Length > 0)
        {
            group.AddLockBalances(rest, accounts);
            group.AddChargeAndReleaseHolds(rest, accounts, Array.ConvertAll(accounts, a => moves[a].Held), Array.ConvertAll(accounts, a => moves[a].Charged), async (reader, ct) =>
            {
                while (await reader.ReadAsync(ct).ConfigureAwait(false))
                {
                    balances[reader.GetString(0)] = reader.GetInt64(1);
                }
            });
        }

        // Each charge's later charges on its account, walked back from the end: its balance after is the account's
        // final balance plus these (the database computes the same for the row it inserts).
        var later = new long[charges.Count];
        var after = new Dictionary<string, long>(StringComparer.Ordinal);
        for (var c = charges.Count - 1; c >= 0; c--)
        {
            later[c] = after.GetValueOrDefault(charges[c].AccountId);
            after[charges[c].AccountId] = later[c] + charges[c].Amount.Nanos;
        }

        var entries = charges.ConvertAll(c => EfCoreCreditStore<TContext>.ChargeEntry(c.ReservationId, c.AccountId, c.Amount, 0, c.Reference, now));
        var inserted = 0;
        if (charges.Count > 0)
        {
            statements.AddChargeEntriesInsert(rest, entries, later, async (reader, ct) =>
            {
                while (await reader.ReadAsync(ct).ConfigureAwait(false))
                {
                    inserted++;
                }
            });
        }

        var seen = new HashSet<string>(StringComparer.Ordinal);
        var records = new List<UsageRecord>(completions.Count);
        for (var i = 0; i < completions.Count; i++)
        {
            if (completions[i].RecordFor(results[i].Status) is { } record && seen.Add(record.RequestId))
            {
                records.Add(record);
            }
        }

        EfCoreUsageStore<TContext>.AddInsert(rest, records);

        var touched = AddTouches(rest, records);
        await rest.ExecuteAsync(cancellationToken).ConfigureAwait(false);
        if (accounts.FirstOrDefault(a => !balances.ContainsKey(a)) is { } missing)
        {
            throw new InvalidOperationException($"Account '{missing}' has reservations but no balance row.");
        }

        // The state transition above lets one settle through; a charge already there means the data was changed by hand.
        if (inserted != charges.Count)
        {
            throw new InvalidOperationException($"{charges.Count - inserted} of {charges.Count} settled reservations already have a charge in the ledger.");
        }

        for (var c = 0; c < charges.Count; c++)
        {
            var balanceAfter = new Money(balances[charges[c].AccountId] + later[c]);
            results[charges[c].Index] = new CompletionResult(CompletionStatus.Completed, entries[c] with { BalanceAfter = balanceAfter });
        }

        var offset = 0;
        for (var i = 0; i < completions.Count; i++)
        {
            if (moved[i] is not null && completions[i].Counts is { Count: > 0 } increments)
            {
                results[i] = results[i] with { Counted = counted[offset..(offset + increments.Count)] };
                offset += increments.Count;
            }
        }

        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        Touched(touched);
        return results;
    }

    /// <summary>
    /// Adds the keys' last use, as the usage log sets it for records it writes: one update per key, in key order, and
    /// not again within <see cref="TouchInterval"/> of the last one this store made (a busy key is not updated on every
    /// batch). Returns what to remember once the batch has committed (<see cref="Touched"/>).
    /// </summary>
    private List<(string KeyId, DateTimeOffset UsedAt)> AddTouches(StatementBatch batch, IEnumerable<UsageRecord> records)
    {
        var touched = new List<(string KeyId, DateTimeOffset UsedAt)>();
        foreach (var key in records.Where(r => r.KeyId is not null).GroupBy(r => r.KeyId!, StringComparer.Ordinal).OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            var usedAt = key.Max(r => r.Timestamp);
            if (!_lastTouched.TryGetValue(key.Key, out var last) || usedAt - last >= TouchInterval)
            {
                EfCoreApiKeyStore<TContext>.AddTouch(batch, key.Key, usedAt);
                touched.Add((key.Key, usedAt));
            }
        }

        return touched;
    }

    private void Touched(List<(string KeyId, DateTimeOffset UsedAt)> touched)
    {
        if (_lastTouched.Count > MaxRememberedKeys)
        {
            // Forgetting only costs an update per key on its next batch.
            _lastTouched.Clear();
        }

        foreach (var (keyId, usedAt) in touched)
        {
            _lastTouched[keyId] = usedAt;
        }
    }

    /// <summary>Adds the settle of <paramref name="ids"/> from active (or expired), recording in <paramref name="moved"/> each one it moves.</summary>
    private static void AddSettle(GroupStatements group, StatementBatch batch, IReadOnlyList<CallCompletion> completions, Dictionary<string, int> settles,
        string[] ids, Moved?[] moved, bool fromExpired)
        => group.AddSettle(batch, ids, Array.ConvertAll(ids, id => completions[settles[id]].Charge!.Value.Nanos), fromExpired, async (reader, ct) =>
        {
            while (await reader.ReadAsync(ct).ConfigureAwait(false))
            {
                moved[settles[reader.GetString(0)]] = new Moved(reader.GetString(1), fromExpired ? 0 : reader.GetInt64(2), reader.IsDBNull(3) ? null : reader.GetString(3));
            }
        });

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

    /// <summary>Whether the writer keeps a connection now (for tests).</summary>
    internal bool HoldsConnection => _held?.IsHolding == true;

    /// <summary>Gives back the connection kept between groups (on SQLite the other group writer's too: they share it).</summary>
    public ValueTask DisposeAsync() => _held?.DisposeAsync() ?? default;

    /// <inheritdoc cref="DisposeAsync"/>
    public void Dispose() => _held?.Dispose();
}
