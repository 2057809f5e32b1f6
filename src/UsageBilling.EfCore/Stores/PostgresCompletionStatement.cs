using System.Data.Common;

namespace UsageBilling.EntityFrameworkCore;

/// <summary>
/// PostgreSQL: the calls of a completion batch whose holds are still active, completed by ONE statement that runs
/// outside an explicit transaction — it is its own transaction, so the batch costs one round trip, commit included,
/// where a transaction of several statements costs three. The statement's parts pass their rows to each other
/// (data-modifying <c>WITH</c>): the reservations moved from active (settled, or released), the balance rows of their
/// accounts locked in account order (the store's lock order) and each updated once (the batch's holds and charges
/// summed), each charge's ledger entry — its balance after read from the updated row plus the batch's later charges
/// on that account — the counts of the calls moved (a key's deltas summed) and the usage records of the calls moved.
/// When the calls carry counts, the same round trip (one implicit transaction) first locks those counters in key
/// order, the store's lock order, and reads their values after the statement. All or nothing: a charge already in
/// the ledger (the data changed by hand) or an account without a balance row fails the statement and keeps nothing.
/// Calls whose hold was not active (expired, completed by an earlier write, unknown) are not touched: their caller
/// completes them the usual way (<see cref="EfCoreCallCompletionStore{TContext}"/>).
/// </summary>
internal sealed class PostgresCompletionStatement
{
    private readonly string _sql;

    public PostgresCompletionStatement(BillingSchema schema)
    {
        var r = schema.Reservations;
        var b = schema.Balances;
        var l = schema.Ledger;
        var usage = EfCoreUsageStore<Microsoft.EntityFrameworkCore.DbContext>.PostgresRows(schema, "v", "@record_reservation", "reservation");
        var k = schema.Counters;

        // The reservations are found by primary key (= ANY, state checked by CreditStatements.StateIs), and each finds its
        // charge and place in the batch by its position in @id (array_position), not by a join to unnest(@id, @charge):
        // PostgreSQL ran that join as a nested loop that read the whole unnest again for every reservation, quadratic in
        // the batch (2 of the statement's 7 ms for a batch of 63).
        //
        // "sum" of bigint is numeric in PostgreSQL: cast back, failing on overflow as the C# sums would. The ledger rows
        // are inserted in batch order (ORDER BY m.ord), the order their balances after are computed in, so that the
        // ledger's sequence reads as a running balance whatever order the reservations' update returned them in.
        _sql = $"""
            WITH moved AS (
                UPDATE {r.Name} AS t
                SET {r["State"]} = CASE WHEN (@charge)[array_position(@id, t.{r["Id"]})] IS NULL THEN {CreditStatements.Released} ELSE {CreditStatements.Settled} END,
                    {r["SettledAmount"]} = coalesce((@charge)[array_position(@id, t.{r["Id"]})], t.{r["SettledAmount"]})
                WHERE t.{r["Id"]} = ANY (@id) AND {CreditStatements.StateIs($"t.{r["State"]}", CreditStatements.Active)}
                RETURNING t.{r["Id"]} AS id, t.{r["AccountId"]} AS account, t.{r["Amount"]} AS held,
                    coalesce((@charge)[array_position(@id, t.{r["Id"]})], 0) AS charge, t.{r["Reference"]} AS reference,
                    array_position(@id, t.{r["Id"]}) AS ord
            ),
            locked AS MATERIALIZED (
                SELECT {b["AccountId"]} AS account FROM {b.Name}
                WHERE {b["AccountId"]} IN (SELECT account FROM moved)
                ORDER BY {b["AccountId"]}
                FOR UPDATE
            ),
            balances AS (
                UPDATE {b.Name} AS t SET {b["Reserved"]} = t.{b["Reserved"]} - s.held, {b["Balance"]} = t.{b["Balance"]} - s.charge
                FROM (SELECT account, sum(held)::bigint AS held, sum(charge)::bigint AS charge FROM moved GROUP BY account) AS s
                WHERE t.{b["AccountId"]} = s.account AND t.{b["AccountId"]} IN (SELECT account FROM locked)
                RETURNING t.{b["AccountId"]} AS account, t.{b["Balance"]} AS balance
            ),
            charges AS (
                INSERT INTO {l.Name} ({l["Id"]}, {l["AccountId"]}, {l["Kind"]}, {l["Amount"]}, {l["BalanceAfter"]}, {l["IdempotencyKey"]}, {l["ReservationId"]}, {l["Reference"]}, {l["Reason"]}, {l["CreatedAt"]})
                SELECT replace(m.id, 'res_', 'led_'), m.account, {(int)LedgerEntryKind.Charge}, -m.charge,
                    x.balance + coalesce(sum(m.charge) OVER (PARTITION BY m.account ORDER BY m.ord ROWS BETWEEN 1 FOLLOWING AND UNBOUNDED FOLLOWING), 0),
                    'settle:' || m.id, m.id, m.reference, NULL, @created
                FROM moved AS m LEFT JOIN balances AS x ON x.account = m.account
                WHERE m.charge <> 0
                ORDER BY m.ord
                RETURNING {l["ReservationId"]} AS id, {l["BalanceAfter"]} AS balance_after
            ),
            records AS (
                INSERT INTO {schema.Usage.Name} ({usage.Columns})
                SELECT {usage.Values} FROM {usage.Source}
                WHERE v.reservation IN (SELECT id FROM moved)
                ON CONFLICT ({schema.Usage[nameof(UsageRecordEntity.RequestId)]}) DO NOTHING
                RETURNING 1
            ),
            counted AS (
                INSERT INTO {k.Name} AS c ({k["Key"]}, {k["Value"]}, {k["ExpiresAt"]})
                SELECT n.k, sum(n.d)::bigint, max(n.e) FROM unnest(@count_key, @count_delta, @count_expires, @count_reservation) AS n (k, d, e, r)
                WHERE n.r IN (SELECT id FROM moved)
                GROUP BY n.k
                ORDER BY n.k
                ON CONFLICT ({k["Key"]}) DO UPDATE SET {k["Value"]} = c.{k["Value"]} + excluded.{k["Value"]}
                RETURNING 1
            )
            SELECT m.id, m.account, m.reference, c.balance_after FROM moved AS m LEFT JOIN charges AS c ON c.id = m.id
            """;
    }

    /// <summary>
    /// Adds the statement for <paramref name="completions"/> (distinct reservations, in batch order) and the usage
    /// records <paramref name="records"/> (distinct request ids), each written only if the reservation at the same index
    /// of <paramref name="recordReservations"/> is moved, and <paramref name="counts"/> of the completions moved;
    /// <paramref name="read"/> reads, for each
    /// reservation moved, its id, account, reference and — for a charge — the ledger entry's balance after.
    /// </summary>
    public void Add(StatementBatch batch, IReadOnlyList<CallCompletion> completions, IReadOnlyList<UsageRecord> records, string[] recordReservations,
        CompletionCounts counts, DateTimeOffset now, Func<DbDataReader, CancellationToken, Task> read)
    {
        var statement = batch.Add(_sql, read)
            .WithArray("@id", completions.Select(static c => c.ReservationId).ToArray())
            .WithArray("@charge", completions.Select(static c => c.Charge?.Nanos).ToArray())
            .With("@created", StoredTime.ToTicks(now))
            .WithArray("@count_key", Array.ConvertAll(counts.Increments, static i => i.Key))
            .WithArray("@count_delta", Array.ConvertAll(counts.Increments, static i => i.Delta))
            .WithArray("@count_expires", Array.ConvertAll(counts.Increments, static i => StoredTime.ToTicks(i.ExpiresAt)))
            .WithArray("@count_reservation", counts.Reservations);
        EfCoreUsageStore<Microsoft.EntityFrameworkCore.DbContext>.AddColumns(statement, records).WithArray("@record_reservation", recordReservations);
    }
}
