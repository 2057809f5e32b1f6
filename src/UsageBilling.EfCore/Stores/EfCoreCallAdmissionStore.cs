using Microsoft.EntityFrameworkCore;

namespace UsageBilling.EntityFrameworkCore;

/// <summary>
/// The Entity Framework Core <see cref="ICallAdmissionStore"/>: a group of calls' counters, reservations and holds in
/// ONE transaction, in the store's lock order (counters, reservations, balances in account order). The first batch
/// writes for every call at once (one round trip on PostgreSQL): the counter increments, the reservations, and a
/// conditional hold per account for all of its calls, all accounts in one statement after their rows are locked in
/// account order (<see cref="GroupStatements"/>) — so an account's balance row is locked once per group, not once
/// per call. <see cref="AdmissionGroup"/> then decides each call in order from the counter values; what was
/// written for calls that were not admitted is taken back by a second batch, and the transaction commits when any
/// call was admitted. An account whose hold does not cover all of its calls in the group keeps none of them here: they
/// are answered <see cref="CallAdmissionStatus.NotHandled"/> and go through the separate stores, which hold exactly
/// what is available, call by call.
/// </summary>
internal sealed class EfCoreCallAdmissionStore<TContext> : ICallAdmissionStore, IAsyncDisposable, IDisposable where TContext : DbContext
{
    private readonly BillingDatabase<TContext> _database;

    // One group is written at a time: its writer keeps a connection between groups (made by the database, which shares
    // it between both group writers on SQLite; disposed here).
    private HeldContext<TContext>? _held;
    private readonly EfCoreRateLimitCounterStore<TContext> _counters;
    private CreditStatements? _statements;
    private GroupStatements? _group;

    public EfCoreCallAdmissionStore(BillingDatabase<TContext> database, EfCoreRateLimitCounterStore<TContext> counters)
    {
        _database = database;
        _counters = counters;
    }

    public async ValueTask<IReadOnlyList<CallAdmissionResult>> TryAdmitAsync(IReadOnlyList<CallAdmissionRequest> calls, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(calls);
        if (calls.Count == 0)
        {
            return [];
        }

        var writer = _held ??= await _database.GroupWriterContextAsync(GroupWriterRole.Admissions, cancellationToken).ConfigureAwait(false);

        // A new group for every attempt: the write may run again after a transient failure.
        var results = await _database.WriteAsync((transaction, ct) => AdmitAsync(transaction, new AdmissionGroup(calls), ct), cancellationToken, writer).ConfigureAwait(false);
        if (calls.Any(static c => c.Increments.Count > 0))
        {
            _counters.ScheduleCleanup();
        }

        return results;
    }

    private async Task<IReadOnlyList<CallAdmissionResult>> AdmitAsync(BillingTransaction transaction, AdmissionGroup group, CancellationToken cancellationToken)
    {
        var statements = _statements ??= new CreditStatements(transaction.Schema);

        // 1. Everything for every call, in one round trip on PostgreSQL.
        var batch = new StatementBatch(transaction);
        var counted = new long[group.Increments.Length];
        if (counted.Length > 0)
        {
            _counters.AddIncrement(batch, group.Increments, counted);
        }

        var inserted = new HashSet<string>(StringComparer.Ordinal);
        if (group.Reservations.Count > 0)
        {
            statements.AddReservationsInsert(batch, group.Reservations, async (reader, ct) =>
            {
                while (await reader.ReadAsync(ct).ConfigureAwait(false))
                {
                    inserted.Add(reader.GetString(0));
                }
            });
        }

        var held = new HashSet<string>(StringComparer.Ordinal);
        if (group.Holds.Length > 0)
        {
            var groupStatements = _group ??= new GroupStatements(transaction.Schema);
            var accounts = Array.ConvertAll(group.Holds, static h => h.AccountId);
            groupStatements.AddLockBalances(batch, accounts);
            groupStatements.AddHoldIfAvailable(batch, accounts, Array.ConvertAll(group.Holds, static h => h.Amount), async (reader, ct) =>
            {
                while (await reader.ReadAsync(ct).ConfigureAwait(false))
                {
                    held.Add(reader.GetString(0));
                }
            });
        }

        await batch.ExecuteAsync(cancellationToken).ConfigureAwait(false);

        // 2. Each call in order, as if admitted alone after the ones before it.
        var results = group.Decide(counted, inserted, held);
        if (!Array.Exists(results, static r => r.Status == CallAdmissionStatus.Admitted))
        {
            // Nothing kept: the transaction rolls back when disposed.
            return results;
        }

        // 3. Take back what was written for the calls that were not admitted, and keep the rest.
        var undo = new StatementBatch(transaction);
        var giveBack = group.CountsToGiveBack.ToArray();
        if (giveBack.Length > 0)
        {
            _counters.AddIncrement(undo, giveBack, new long[giveBack.Length]);
        }

        foreach (var reservationId in group.ReservationsToDelete)
        {
            undo.Add(statements.DeleteReservationSql).With("@id", reservationId);
        }

        foreach (var (accountId, amount) in group.HoldsToRelease(held))
        {
            undo.Add(statements.ReleaseHoldSql).With("@account", accountId).With("@amount", amount);
        }

        await undo.ExecuteAsync(cancellationToken).ConfigureAwait(false);
        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        return results;
    }

    /// <summary>Gives back the connection kept between groups (on SQLite the other group writer's too: they share it).</summary>
    public ValueTask DisposeAsync() => _held?.DisposeAsync() ?? default;

    /// <inheritdoc cref="DisposeAsync"/>
    public void Dispose() => _held?.Dispose();
}
