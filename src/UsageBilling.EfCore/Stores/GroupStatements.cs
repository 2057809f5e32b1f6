using System.Collections.Concurrent;
using System.Globalization;

namespace UsageBilling.EntityFrameworkCore;

/// <summary>
/// The statements of admission and completion groups: each moves many rows at once — many reservations, many
/// accounts' balances (the multi-row inserts are <see cref="CreditStatements"/>') — so that a group costs a few statements, not a few per call. A row's own
/// value is picked by a <c>CASE</c> on its key. The SQL is built once per row count and kept.
/// </summary>
/// <remarks>
/// Lock order. A multi-row <c>UPDATE</c> locks rows in whatever order its plan visits them, so on PostgreSQL the
/// balance rows are first locked with <see cref="LockBalancesSql"/> in account order — the order every transaction of
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
    public string SettleSql(int rows, bool fromExpired) => Get(fromExpired ? Kind.SettleFromExpired : Kind.SettleFromActive, rows);

    /// <summary>Releases the active reservations among @id{i}; returns id, account and amount of each one released.</summary>
    public string ReleaseSql(int rows) => Get(Kind.Release, rows);

    /// <summary>PostgreSQL: locks the balance rows of @account{i} in account order (returns their ids); null on SQLite.</summary>
    public string? LockBalancesSql(int rows) => _schema.Provider == BillingProvider.PostgreSql ? Get(Kind.LockBalances, rows) : null;

    /// <summary>Takes @held{i} off the holds and @charge{i} off the balance of each @account{i}; returns account and balance after.</summary>
    public string ChargeAndReleaseHoldsSql(int rows) => Get(Kind.ChargeAndReleaseHolds, rows);

    /// <summary>Holds @amount{i} on each @account{i} whose available balance covers it; returns the accounts held.</summary>
    public string HoldIfAvailableSql(int rows) => Get(Kind.HoldIfAvailable, rows);

    private string Get(Kind kind, int rows) => _sql.GetOrAdd((kind, rows), static (key, schema) => Build(schema, key.Item1, key.Item2), _schema);

    private static string Build(BillingSchema schema, Kind kind, int rows)
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
            Kind.LockBalances => $"""
                SELECT {b["AccountId"]} FROM {b.Name} WHERE {b["AccountId"]} IN ({accounts}) ORDER BY {b["AccountId"]} FOR UPDATE
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
