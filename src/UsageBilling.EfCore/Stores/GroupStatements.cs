using System.Collections.Concurrent;
using System.Data.Common;

namespace UsageBilling.EntityFrameworkCore;

/// <summary>
/// The statements of admission and completion groups: each moves many rows at once — many reservations, many
/// accounts' balances (the multi-row inserts are <see cref="CreditStatements"/>') — so that a group costs a few
/// statements, not a few per call. On PostgreSQL the rows come as arrays, one per column (<c>unnest</c>,
/// <c>= ANY</c>), on SQLite as one JSON array of rows (<see cref="JsonRows"/>): on both, one statement text and a few
/// parameters for any group.
/// </summary>
/// <remarks>
/// Lock order. A multi-row <c>UPDATE</c> locks rows in whatever order its plan visits them, so on PostgreSQL the
/// balance rows are first locked with <see cref="AddLockBalances"/> in account order — the order every transaction of
/// the store takes them in — and the update then finds them locked by its own transaction. SQLite has one writer and
/// needs no row locks.
/// </remarks>
internal sealed class GroupStatements
{
    private readonly BillingSchema _schema;
    private readonly ConcurrentDictionary<Kind, string> _sql = new();

    public GroupStatements(BillingSchema schema) => _schema = schema;

    private enum Kind
    {
        SettleFromActive,
        SettleFromExpired,
        Release,
        LockBalances,
        ChargeAndReleaseHolds,
        HoldIfAvailable,
    }

    /// <summary>
    /// Adds the settle of reservations <paramref name="ids"/> with their <paramref name="charges"/> that are active
    /// (<paramref name="fromExpired"/>: expired); reads id, account, amount and reference of each one settled.
    /// </summary>
    public void AddSettle(StatementBatch batch, string[] ids, long[] charges, bool fromExpired, Func<DbDataReader, CancellationToken, Task> read)
        => batch.Add(Get(fromExpired ? Kind.SettleFromExpired : Kind.SettleFromActive), read, 2)
            .WithRows(ids.Length, ("@id", ids), ("@charge", charges));

    /// <summary>Adds the release of the active reservations among <paramref name="ids"/>; reads id, account and amount of each one released.</summary>
    public void AddRelease(StatementBatch batch, string[] ids, Func<DbDataReader, CancellationToken, Task> read)
        => batch.Add(Get(Kind.Release), read, 1).WithRows(ids.Length, ("@id", ids));

    /// <summary>PostgreSQL: adds the lock of the balance rows of <paramref name="accounts"/>, in account order; nothing on SQLite.</summary>
    public void AddLockBalances(StatementBatch batch, string[] accounts)
    {
        if (_schema.Provider == BillingProvider.PostgreSql)
        {
            batch.Add(Get(Kind.LockBalances), null, 1).WithArray("@account", accounts);
        }
    }

    /// <summary>
    /// Adds the update that takes <paramref name="held"/> off the holds and <paramref name="charged"/> off the balance of
    /// each of <paramref name="accounts"/> (distinct); reads account and balance after of each one.
    /// </summary>
    public void AddChargeAndReleaseHolds(StatementBatch batch, string[] accounts, long[] held, long[] charged, Func<DbDataReader, CancellationToken, Task> read)
        => batch.Add(Get(Kind.ChargeAndReleaseHolds), read, 3)
            .WithRows(accounts.Length, ("@account", accounts), ("@held", held), ("@charge", charged));

    /// <summary>
    /// Adds the hold of <paramref name="amounts"/> on each of <paramref name="accounts"/> (distinct) whose available
    /// balance covers it; reads the accounts held.
    /// </summary>
    public void AddHoldIfAvailable(StatementBatch batch, string[] accounts, long[] amounts, Func<DbDataReader, CancellationToken, Task> read)
        => batch.Add(Get(Kind.HoldIfAvailable), read, 2).WithRows(accounts.Length, ("@account", accounts), ("@amount", amounts));

    private string Get(Kind kind) => _sql.GetOrAdd(kind, static (kind, schema) => Build(schema, kind), _schema);

    private static string Build(BillingSchema schema, Kind kind)
        => schema.Provider == BillingProvider.PostgreSql ? BuildArrays(schema, kind) : BuildJsonRows(schema, kind);

    /// <summary>
    /// PostgreSQL: the statements of any number of rows, fed from arrays (<c>unnest</c>, <c>= ANY</c>). They are prepared
    /// once per connection (<see cref="HeldContext{TContext}"/>), so their plan is made without the arrays' values: the
    /// settle names its reservations by key with <c>= ANY</c>, which keeps it on the primary key however many
    /// reservations the table holds (joined to <c>unnest</c>, a generic plan scanned the reservations, and with
    /// <c>= ANY</c> too it read the unnest again for every reservation), takes each one's charge by its position in
    /// <c>@id</c>, and checks their state with <see cref="CreditStatements.StateIs"/>, which keeps it off the partial
    /// index of active holds.
    /// </summary>
    private static string BuildArrays(BillingSchema schema, Kind kind)
    {
        var r = schema.Reservations;
        var b = schema.Balances;
        return kind switch
        {
            Kind.SettleFromActive or Kind.SettleFromExpired => $"""
                UPDATE {r.Name} AS t SET {r["State"]} = {CreditStatements.Settled}, {r["SettledAmount"]} = (@charge)[array_position(@id, t.{r["Id"]})]
                WHERE t.{r["Id"]} = ANY (@id) AND {CreditStatements.StateIs($"t.{r["State"]}", kind == Kind.SettleFromActive ? CreditStatements.Active : CreditStatements.Expired)}
                RETURNING t.{r["Id"]}, t.{r["AccountId"]}, t.{r["Amount"]}, t.{r["Reference"]}
                """,
            Kind.Release => $"""
                UPDATE {r.Name} AS t SET {r["State"]} = {CreditStatements.Released}
                WHERE t.{r["Id"]} = ANY (@id) AND {CreditStatements.StateIs($"t.{r["State"]}", CreditStatements.Active)}
                RETURNING t.{r["Id"]}, t.{r["AccountId"]}, t.{r["Amount"]}
                """,
            Kind.LockBalances => $"""
                SELECT {b["AccountId"]} FROM {b.Name} WHERE {b["AccountId"]} = ANY (@account) ORDER BY {b["AccountId"]} FOR UPDATE
                """,
            Kind.ChargeAndReleaseHolds => $"""
                UPDATE {b.Name} AS t SET {b["Reserved"]} = t.{b["Reserved"]} - u.held, {b["Balance"]} = t.{b["Balance"]} - u.charge
                FROM unnest(@account, @held, @charge) AS u (account, held, charge)
                WHERE t.{b["AccountId"]} = u.account
                RETURNING t.{b["AccountId"]}, t.{b["Balance"]}
                """,
            Kind.HoldIfAvailable => $"""
                UPDATE {b.Name} AS t SET {b["Reserved"]} = t.{b["Reserved"]} + u.amount
                FROM unnest(@account, @amount) AS u (account, amount)
                WHERE t.{b["AccountId"]} = u.account AND t.{b["Balance"]} - t.{b["Reserved"]} >= u.amount
                RETURNING t.{b["AccountId"]}
                """,
            _ => throw new ArgumentOutOfRangeException(nameof(kind)),
        };
    }

    /// <summary>SQLite: the same statements fed from one JSON array of rows (<see cref="JsonRows"/>).</summary>
    private static string BuildJsonRows(BillingSchema schema, Kind kind)
    {
        var r = schema.Reservations;
        var b = schema.Balances;
        return kind switch
        {
            Kind.SettleFromActive or Kind.SettleFromExpired => $"""
                UPDATE {r.Name} SET {r["State"]} = {CreditStatements.Settled}, {r["SettledAmount"]} = u.charge
                FROM {JsonRows.Source("u", "id", "charge")}
                WHERE {r.Name}.{r["Id"]} = u.id AND {r.Name}.{r["State"]} = {(kind == Kind.SettleFromActive ? CreditStatements.Active : CreditStatements.Expired)}
                RETURNING {r["Id"]}, {r["AccountId"]}, {r["Amount"]}, {r["Reference"]}
                """,
            Kind.Release => $"""
                UPDATE {r.Name} SET {r["State"]} = {CreditStatements.Released}
                WHERE {r["Id"]} IN ({JsonRows.Select("id")}) AND {r["State"]} = {CreditStatements.Active}
                RETURNING {r["Id"]}, {r["AccountId"]}, {r["Amount"]}
                """,
            Kind.ChargeAndReleaseHolds => $"""
                UPDATE {b.Name} SET {b["Reserved"]} = {b["Reserved"]} - u.held, {b["Balance"]} = {b["Balance"]} - u.charge
                FROM {JsonRows.Source("u", "account", "held", "charge")}
                WHERE {b.Name}.{b["AccountId"]} = u.account
                RETURNING {b["AccountId"]}, {b["Balance"]}
                """,
            Kind.HoldIfAvailable => $"""
                UPDATE {b.Name} SET {b["Reserved"]} = {b["Reserved"]} + u.amount
                FROM {JsonRows.Source("u", "account", "amount")}
                WHERE {b.Name}.{b["AccountId"]} = u.account AND {b["Balance"]} - {b["Reserved"]} >= u.amount
                RETURNING {b["AccountId"]}
                """,
            _ => throw new ArgumentOutOfRangeException(nameof(kind)),
        };
    }
}
