using Microsoft.EntityFrameworkCore;

namespace UsageBilling.EntityFrameworkCore;

/// <summary>
/// The Entity Framework Core <see cref="ICallAdmissionStore"/>: a call's counters, its reservation and its hold in ONE
/// transaction (counters, then reservation, then balance: the store's lock order), sent as one batch (one round trip
/// on PostgreSQL, then the commit). Only a plain new hold commits; a refusal, a duplicate key or too little credit
/// rolls everything back, so nothing is ever given back afterwards.
/// </summary>
internal sealed class EfCoreCallAdmissionStore<TContext> : ICallAdmissionStore where TContext : DbContext
{
    private readonly BillingDatabase<TContext> _database;
    private readonly EfCoreRateLimitCounterStore<TContext> _counters;
    private CreditStatements? _statements;

    public EfCoreCallAdmissionStore(BillingDatabase<TContext> database, EfCoreRateLimitCounterStore<TContext> counters)
    {
        _database = database;
        _counters = counters;
    }

    public async ValueTask<CallAdmissionResult> TryAdmitAsync(IReadOnlyList<CounterIncrement> increments, Func<IReadOnlyList<long>, bool> admit,
        CreditReservationRequest reservation, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(increments);
        ArgumentNullException.ThrowIfNull(admit);
        ArgumentNullException.ThrowIfNull(reservation);
        var result = await _database.WriteAsync(async (transaction, ct) =>
        {
            var statements = _statements ??= new CreditStatements(transaction.Schema);

            // All three in one round trip on PostgreSQL; the decision comes after, and only a plain new hold commits.
            var batch = new StatementBatch(transaction);
            var counts = new long[increments.Count];
            if (increments.Count > 0)
            {
                _counters.AddIncrement(batch, increments, counts);
            }

            var inserted = false;
            var held = false;
            CreditStatements.BindReservation(batch.Add(statements.InsertReservationReturningSql, async (reader, ct) => inserted = await reader.ReadAsync(ct).ConfigureAwait(false)),
                reservation);
            batch.Add(statements.HoldIfAvailableSql, async (reader, ct) => held = await reader.ReadAsync(ct).ConfigureAwait(false))
                .With("@account", reservation.AccountId).With("@amount", reservation.Amount.Nanos);
            await batch.ExecuteAsync(ct).ConfigureAwait(false);

            if (!admit(counts))
            {
                return new CallAdmissionResult(CallAdmissionStatus.Refused, counts, null);
            }

            if (!inserted || !held)
            {
                return new CallAdmissionResult(CallAdmissionStatus.NotHandled, [], null);
            }

            await transaction.CommitAsync(ct).ConfigureAwait(false);
            return new CallAdmissionResult(CallAdmissionStatus.Admitted, counts, new CreditReservation
            {
                Id = reservation.ReservationId,
                AccountId = reservation.AccountId,
                Amount = reservation.Amount,
                IdempotencyKey = reservation.IdempotencyKey,
                Reference = reservation.Reference,
                State = ReservationState.Active,
                CreatedAt = reservation.CreatedAt,
                ExpiresAt = reservation.ExpiresAt,
            });
        }, cancellationToken).ConfigureAwait(false);

        if (increments.Count > 0)
        {
            _counters.ScheduleCleanup();
        }

        return result;
    }
}
