namespace UsageBilling.EntityFrameworkCore;

/// <summary>
/// The credit store's statements. Every money move is a conditional statement whose WHERE clause holds the rule, so
/// the database decides atomically (the row lock of an UPDATE serializes concurrent moves on one account in PostgreSQL;
/// SQLite has one writer). Within a transaction rows are always touched in the order reservation, balance, ledger, so
/// concurrent transactions cannot deadlock on each other.
/// </summary>
internal sealed class CreditStoreSql
{
    public const int Active = (int)ReservationState.Active;
    public const int Settled = (int)ReservationState.Settled;
    public const int Released = (int)ReservationState.Released;
    public const int Expired = (int)ReservationState.Expired;

    public CreditStoreSql(BillingSchema schema)
    {
        var b = schema.Balances;
        var r = schema.Reservations;
        var l = schema.Ledger;

        EnsureBalance = $"""
            INSERT INTO {b.Name} ({b["AccountId"]}, {b["Balance"]}, {b["Reserved"]}) VALUES (@account, 0, 0)
            ON CONFLICT ({b["AccountId"]}) DO NOTHING
            """;

        // Hold credit only if the available balance covers it.
        HoldIfAvailable = $"""
            UPDATE {b.Name} SET {b["Reserved"]} = {b["Reserved"]} + @amount
            WHERE {b["AccountId"]} = @account AND {b["Balance"]} - {b["Reserved"]} >= @amount
            RETURNING {b["Balance"]}, {b["Reserved"]}
            """;

        ReleaseHold = $"""
            UPDATE {b.Name} SET {b["Reserved"]} = {b["Reserved"]} - @amount
            WHERE {b["AccountId"]} = @account
            """;

        // Settling: remove the hold and charge in one statement.
        ChargeAndReleaseHold = $"""
            UPDATE {b.Name} SET {b["Reserved"]} = {b["Reserved"]} - @held, {b["Balance"]} = {b["Balance"]} - @charge
            WHERE {b["AccountId"]} = @account
            RETURNING {b["Balance"]}
            """;

        Post = $"""
            UPDATE {b.Name} SET {b["Balance"]} = {b["Balance"]} + @amount
            WHERE {b["AccountId"]} = @account
            RETURNING {b["Balance"]}
            """;

        // A move that must not take the available balance below zero.
        PostIfAvailable = $"""
            UPDATE {b.Name} SET {b["Balance"]} = {b["Balance"]} + @amount
            WHERE {b["AccountId"]} = @account AND {b["Balance"]} - {b["Reserved"]} + @amount >= 0
            RETURNING {b["Balance"]}
            """;

        InsertReservation = $"""
            INSERT INTO {r.Name} ({r["Id"]}, {r["AccountId"]}, {r["Amount"]}, {r["IdempotencyKey"]}, {r["Reference"]}, {r["State"]}, {r["CreatedAt"]}, {r["ExpiresAt"]}, {r["SettledAmount"]})
            VALUES (@id, @account, @amount, @key, @reference, {Active}, @created, @expires, NULL)
            ON CONFLICT ({r["AccountId"]}, {r["IdempotencyKey"]}) DO NOTHING
            """;

        Revive = $"""
            UPDATE {r.Name} SET {r["State"]} = {Active}, {r["Amount"]} = @amount, {r["CreatedAt"]} = @created, {r["ExpiresAt"]} = @expires, {r["SettledAmount"]} = NULL
            WHERE {r["Id"]} = @id AND {r["State"]} IN ({Released}, {Expired})
            """;

        // The state transitions: the affected row count says who won.
        SettleFrom = $"""
            UPDATE {r.Name} SET {r["State"]} = {Settled}, {r["SettledAmount"]} = @charge
            WHERE {r["Id"]} = @id AND {r["State"]} = @from
            RETURNING {r["AccountId"]}, {r["Amount"]}, {r["Reference"]}
            """;

        Release = $"""
            UPDATE {r.Name} SET {r["State"]} = {Released}
            WHERE {r["Id"]} = @id AND {r["State"]} = {Active}
            RETURNING {r["AccountId"]}, {r["Amount"]}
            """;

        var lockDue = schema.Provider == BillingProvider.PostgreSql ? " FOR UPDATE SKIP LOCKED" : "";
        ExpireDue = $"""
            UPDATE {r.Name} SET {r["State"]} = {Expired}
            WHERE {r["State"]} = {Active} AND {r["Id"]} IN (
                SELECT {r["Id"]} FROM {r.Name}
                WHERE {r["State"]} = {Active} AND {r["ExpiresAt"]} <= @now
                ORDER BY {r["ExpiresAt"]}
                LIMIT @max{lockDue})
            RETURNING {r["AccountId"]}, {r["Amount"]}
            """;

        InsertLedgerEntry = $"""
            INSERT INTO {l.Name} ({l["Id"]}, {l["AccountId"]}, {l["Kind"]}, {l["Amount"]}, {l["BalanceAfter"]}, {l["IdempotencyKey"]}, {l["ReservationId"]}, {l["Reference"]}, {l["Reason"]}, {l["CreatedAt"]})
            VALUES (@id, @account, @kind, @amount, @balanceAfter, @key, @reservation, @reference, @reason, @created)
            ON CONFLICT ({l["AccountId"]}, {l["IdempotencyKey"]}) DO NOTHING
            """;
    }

    public string EnsureBalance { get; }

    public string HoldIfAvailable { get; }

    public string ReleaseHold { get; }

    public string ChargeAndReleaseHold { get; }

    public string Post { get; }

    public string PostIfAvailable { get; }

    public string InsertReservation { get; }

    public string Revive { get; }

    public string SettleFrom { get; }

    public string Release { get; }

    public string ExpireDue { get; }

    public string InsertLedgerEntry { get; }
}
