using System.Collections.Concurrent;
using System.Data.Common;
using System.Globalization;

namespace UsageBilling.EntityFrameworkCore;

/// <summary>
/// The statements of admission and completion groups: each moves many rows at once — many reservations, many
/// accounts' balances (the multi-row inserts are <see cref="CreditStatements"/>') — so that a group costs a few
/// statements, not a few per call. On PostgreSQL the rows come as arrays, one per column (<c>unnest</c>,
/// <c>= ANY</c>): one statement text and a few parameters for any group. On SQLite a row's own value is picked by a
/// <c>CASE</c> on its key, the SQL built once per row count and kept.
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
    private readonly ConcurrentDictionary<(Kind, int), string> _sql = new();

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
    /// Settles reservations @id{i} with @charge{i} that are active (<paramref name="fromExpired"/>: expired); returns
    /// id, account, amount and reference of each one settled.
    /// </summary>
    private string SettleSql(int rows, bool fromExpired) => Get(fromExpired ? Kind.SettleFromExpired : Kind.SettleFromActive, rows);

    /// <summary>Releases the active reservations among @id{i}; returns id, account and amount of each one released.</summary>
    private string ReleaseSql(int rows) => Get(Kind.Release, rows);

    /// <summary>Takes @held{i} off the holds and @charge{i} off the balance of each @account{i}; returns account and balance after.</summary>
    private string ChargeAndReleaseHoldsSql(int rows) => Get(Kind.ChargeAndReleaseHolds, rows);

    /// <summary>Holds @amount{i} on each @account{i} whose available balance covers it; returns the accounts held.</summary>
    private string HoldIfAvailableSql(int rows) => Get(Kind.HoldIfAvailable, rows);

    /// <summary>Adds <see cref="SettleSql"/> for reservations <paramref name="ids"/> with their <paramref name="charges"/>; PostgreSQL: two arrays.</summary>
    public void AddSettle(StatementBatch batch, IReadOnlyList<string> ids, long[] charges, bool fromExpired, Func<DbDataReader, CancellationToken, Task> read)
    {
        if (Arrays)
        {
            batch.Add(Get(fromExpired ? Kind.SettleFromExpired : Kind.SettleFromActive, -1), read, 2).WithArray("@id", ToArray(ids)).WithArray("@charge", charges);
            return;
        }

        var settle = batch.Add(SettleSql(ids.Count, fromExpired), read, ids.Count * 2);
        for (var i = 0; i < ids.Count; i++)
        {
            settle.With("@id", i, ids[i]).With("@charge", i, charges[i]);
        }
    }

    /// <summary>Adds <see cref="ReleaseSql"/> for reservations <paramref name="ids"/>; PostgreSQL: one array.</summary>
    public void AddRelease(StatementBatch batch, IReadOnlyList<string> ids, Func<DbDataReader, CancellationToken, Task> read)
    {
        if (Arrays)
        {
            batch.Add(Get(Kind.Release, -1), read, 1).WithArray("@id", ToArray(ids));
            return;
        }

        var release = batch.Add(ReleaseSql(ids.Count), read, ids.Count);
        for (var i = 0; i < ids.Count; i++)
        {
            release.With("@id", i, ids[i]);
        }
    }

    /// <summary>PostgreSQL: adds the lock of the balance rows of <paramref name="accounts"/>, in account order; nothing on SQLite.</summary>
    public void AddLockBalances(StatementBatch batch, string[] accounts)
    {
        if (Arrays)
        {
            batch.Add(Get(Kind.LockBalances, -1), null, 1).WithArray("@account", accounts);
        }
    }

    /// <summary>Adds <see cref="ChargeAndReleaseHoldsSql"/> (accounts distinct); PostgreSQL: three arrays.</summary>
    public void AddChargeAndReleaseHolds(StatementBatch batch, string[] accounts, long[] held, long[] charged, Func<DbDataReader, CancellationToken, Task> read)
    {
        if (Arrays)
        {
            batch.Add(Get(Kind.ChargeAndReleaseHolds, -1), read, 3).WithArray("@account", accounts).WithArray("@held", held).WithArray("@charge", charged);
            return;
        }

        // In the order the statement first names them: each row's account and hold, then the charges.
        var update = batch.Add(ChargeAndReleaseHoldsSql(accounts.Length), read, accounts.Length * 3);
        for (var a = 0; a < accounts.Length; a++)
        {
            update.With("@account", a, accounts[a]).With("@held", a, held[a]);
        }

        for (var a = 0; a < accounts.Length; a++)
        {
            update.With("@charge", a, charged[a]);
        }
    }

    /// <summary>Adds <see cref="HoldIfAvailableSql"/> (accounts distinct); PostgreSQL: two arrays.</summary>
    public void AddHoldIfAvailable(StatementBatch batch, string[] accounts, long[] amounts, Func<DbDataReader, CancellationToken, Task> read)
    {
        if (Arrays)
        {
            batch.Add(Get(Kind.HoldIfAvailable, -1), read, 2).WithArray("@account", accounts).WithArray("@amount", amounts);
            return;
        }

        var hold = batch.Add(HoldIfAvailableSql(accounts.Length), read, accounts.Length * 2);
        for (var a = 0; a < accounts.Length; a++)
        {
            hold.With("@account", a, accounts[a]).With("@amount", a, amounts[a]);
        }
    }

    /// <summary>PostgreSQL takes a group's rows as arrays (one statement text, a parameter per column); SQLite as a CASE per row.</summary>
    private bool Arrays => _schema.Provider == BillingProvider.PostgreSql;

    private static string[] ToArray(IReadOnlyList<string> values) => values as string[] ?? [.. values];

    private string Get(Kind kind, int rows) => _sql.GetOrAdd((kind, rows), static (key, schema) => Build(schema, key.Item1, key.Item2), _schema);

    private static string Build(BillingSchema schema, Kind kind, int rows)
        => rows < 0 ? BuildArrays(schema, kind) : BuildRows(schema, kind, rows);

    /// <summary>PostgreSQL: the statements of any number of rows, fed from arrays (<c>unnest</c>, <c>= ANY</c>).</summary>
    private static string BuildArrays(BillingSchema schema, Kind kind)
    {
        var r = schema.Reservations;
        var b = schema.Balances;
        return kind switch
        {
            Kind.SettleFromActive or Kind.SettleFromExpired => $"""
                UPDATE {r.Name} AS t SET {r["State"]} = {CreditStatements.Settled}, {r["SettledAmount"]} = u.charge
                FROM unnest(@id, @charge) AS u (id, charge)
                WHERE t.{r["Id"]} = u.id AND t.{r["State"]} = {(kind == Kind.SettleFromActive ? CreditStatements.Active : CreditStatements.Expired)}
                RETURNING t.{r["Id"]}, t.{r["AccountId"]}, t.{r["Amount"]}, t.{r["Reference"]}
                """,
            Kind.Release => $"""
                UPDATE {r.Name} AS t SET {r["State"]} = {CreditStatements.Released}
                WHERE t.{r["Id"]} = ANY (@id) AND t.{r["State"]} = {CreditStatements.Active}
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

    private static string BuildRows(BillingSchema schema, Kind kind, int rows)
    {
        var r = schema.Reservations;
        var b = schema.Balances;
        var ids = List(rows, "@id");
        var accounts = List(rows, "@account");
        return kind switch
        {
            Kind.SettleFromActive or Kind.SettleFromExpired => $"""
                UPDATE {r.Name} SET {r["State"]} = {CreditStatements.Settled}, {r["SettledAmount"]} = {Case(r["Id"], rows, "@id", "@charge")}
                WHERE {r["Id"]} IN ({ids}) AND {r["State"]} = {(kind == Kind.SettleFromActive ? CreditStatements.Active : CreditStatements.Expired)}
                RETURNING {r["Id"]}, {r["AccountId"]}, {r["Amount"]}, {r["Reference"]}
                """,
            Kind.Release => $"""
                UPDATE {r.Name} SET {r["State"]} = {CreditStatements.Released}
                WHERE {r["Id"]} IN ({ids}) AND {r["State"]} = {CreditStatements.Active}
                RETURNING {r["Id"]}, {r["AccountId"]}, {r["Amount"]}
                """,
            Kind.ChargeAndReleaseHolds => $"""
                UPDATE {b.Name} SET {b["Reserved"]} = {b["Reserved"]} - {Case(b["AccountId"], rows, "@account", "@held")},
                    {b["Balance"]} = {b["Balance"]} - {Case(b["AccountId"], rows, "@account", "@charge")}
                WHERE {b["AccountId"]} IN ({accounts})
                RETURNING {b["AccountId"]}, {b["Balance"]}
                """,
            Kind.HoldIfAvailable => $"""
                UPDATE {b.Name} SET {b["Reserved"]} = {b["Reserved"]} + {Case(b["AccountId"], rows, "@account", "@amount")}
                WHERE {b["AccountId"]} IN ({accounts}) AND {b["Balance"]} - {b["Reserved"]} >= {Case(b["AccountId"], rows, "@account", "@amount")}
                RETURNING {b["AccountId"]}
                """,
            _ => throw new ArgumentOutOfRangeException(nameof(kind)),
        };
    }

    private static string List(int rows, string prefix) => string.Join(", ", Enumerable.Range(0, rows).Select(i => prefix + i.ToString(CultureInfo.InvariantCulture)));

    private static string Case(string column, int rows, string key, string value)
        => $"CASE {column} {string.Join(" ", Enumerable.Range(0, rows).Select(i => $"WHEN {key}{i} THEN {value}{i}"))} END";
}
