using System.Data.Common;

namespace UsageBilling.EntityFrameworkCore;

/// <summary>
/// The credit store's statements, built once from the model's table and column names. Every money move is a
/// conditional statement whose WHERE clause holds the rule, so the database decides atomically: in PostgreSQL the
/// row lock of an UPDATE makes concurrent moves on one account queue and re-check the condition on the latest row;
/// SQLite has one writer. <see cref="EfCoreCreditStore{TContext}"/> runs them in the order reservation, balance,
/// ledger within every transaction, so concurrent transactions cannot deadlock on each other.
/// </summary>
internal sealed class CreditStatements
{
    public const int Active = (int)ReservationState.Active;
    public const int Settled = (int)ReservationState.Settled;
    public const int Released = (int)ReservationState.Released;
    public const int Expired = (int)ReservationState.Expired;

    /// <summary>
    /// <c>t.state + 0 = @state</c>: a hold's state checked in a way PostgreSQL cannot answer from the partial index of
    /// active holds (<c>expires_at WHERE state = 0</c>, the sweeper's), for statements that name their holds by key
    /// (<c>id = ANY (@id)</c>) and must find them by primary key. Under load the completion statement's generic plan
    /// chose that index (few holds are active, so it looks small) — whose bitmap scan reads the entries of every hold
    /// settled since the table was last vacuumed, entries of dead row versions it never marks dead: work that grows with
    /// the hold traffic between vacuums.
    /// </summary>
    public static string StateIs(string column, int state) => $"{column} + 0 = {state}";

    private readonly string _ensureBalance;
    private readonly string _holdIfAvailable;
    private readonly string _releaseHold;
    private readonly string _chargeAndReleaseHold;
    private readonly string _post;
    private readonly string _postIfAvailable;
    private readonly string _settleFrom;
    private readonly string _release;
    private readonly string _expireDue;
    private readonly string _stateOf;
    private readonly string _insertReservation;
    private readonly string _insertLedgerEntry;
    private readonly string _insertChargeEntryArrays;
    private readonly string _insertReservationArrays;
    private readonly string _insertChargeEntryJsonRows;
    private readonly string _insertReservationJsonRows;

    public CreditStatements(BillingSchema schema)
    {
        var b = schema.Balances;
        var r = schema.Reservations;
        var l = schema.Ledger;

        _ensureBalance = $"""
            INSERT INTO {b.Name} ({b["AccountId"]}, {b["Balance"]}, {b["Reserved"]}) VALUES (@account, 0, 0)
            ON CONFLICT ({b["AccountId"]}) DO NOTHING
            """;
        _holdIfAvailable = $"""
            UPDATE {b.Name} SET {b["Reserved"]} = {b["Reserved"]} + @amount
            WHERE {b["AccountId"]} = @account AND {b["Balance"]} - {b["Reserved"]} >= @amount
            RETURNING {b["Balance"]}, {b["Reserved"]}
            """;
        _releaseHold = $"""
            UPDATE {b.Name} SET {b["Reserved"]} = {b["Reserved"]} - @amount
            WHERE {b["AccountId"]} = @account
            RETURNING {b["Reserved"]}
            """;
        _chargeAndReleaseHold = $"""
            UPDATE {b.Name} SET {b["Reserved"]} = {b["Reserved"]} - @held, {b["Balance"]} = {b["Balance"]} - @charge
            WHERE {b["AccountId"]} = @account
            RETURNING {b["Balance"]}
            """;
        // The balance must stay within ±CreditBalance.MaxBalance: compared with bounds computed in C# (@high = max - amount,
        // @low = -max - amount), so the check itself cannot overflow a 64-bit column.
        _post = $"""
            UPDATE {b.Name} SET {b["Balance"]} = {b["Balance"]} + @amount
            WHERE {b["AccountId"]} = @account AND {b["Balance"]} <= @high AND {b["Balance"]} >= @low
            RETURNING {b["Balance"]}
            """;
        _postIfAvailable = $"""
            UPDATE {b.Name} SET {b["Balance"]} = {b["Balance"]} + @amount
            WHERE {b["AccountId"]} = @account AND {b["Balance"]} - {b["Reserved"]} + @amount >= 0 AND {b["Balance"]} <= @high AND {b["Balance"]} >= @low
            RETURNING {b["Balance"]}
            """;
        _insertReservation = $"""
            INSERT INTO {r.Name} ({r["Id"]}, {r["AccountId"]}, {r["Amount"]}, {r["IdempotencyKey"]}, {r["Reference"]}, {r["State"]}, {r["CreatedAt"]}, {r["ExpiresAt"]}, {r["SettledAmount"]})
            VALUES (@id, @account, @amount, @key, @reference, {Active}, @created, @expires, NULL)
            ON CONFLICT ({r["AccountId"]}, {r["IdempotencyKey"]}) DO NOTHING
            RETURNING {r["Id"]}
            """;
        _settleFrom = $"""
            UPDATE {r.Name} SET {r["State"]} = {Settled}, {r["SettledAmount"]} = @charge
            WHERE {r["Id"]} = @id AND {r["State"]} = @from
            RETURNING {r["AccountId"]}, {r["Amount"]}, {r["Reference"]}
            """;
        _release = $"""
            UPDATE {r.Name} SET {r["State"]} = {Released}
            WHERE {r["Id"]} = @id AND {r["State"]} = {Active}
            RETURNING {r["AccountId"]}, {r["Amount"]}
            """;

        // PostgreSQL: skip rows another transaction is settling or expiring right now instead of waiting for them. The due
        // rows are chosen once, in a materialized WITH: as an IN (...) subquery the planner may run the choice again for
        // each row it updates (the inner side of a nested loop), and each run skips the rows this statement has just
        // updated as locked, so the next ones were taken too — more than @max, seen in CI as 3 of a batch of 2.
        var dueRows = $"""
            SELECT {r["Id"]} FROM {r.Name}
            WHERE {r["State"]} = {Active} AND ({r["ExpiresAt"]} <= @now OR {r["CreatedAt"]} <= @createdBefore)
            ORDER BY {r["ExpiresAt"]}
            LIMIT @max
            """;
        _expireDue = schema.Provider == BillingProvider.PostgreSql
            ? $"""
                WITH due AS MATERIALIZED ({dueRows} FOR UPDATE SKIP LOCKED)
                UPDATE {r.Name} AS t SET {r["State"]} = {Expired}
                FROM due
                WHERE t.{r["Id"]} = due.{r["Id"]} AND t.{r["State"]} = {Active}
                RETURNING t.{r["AccountId"]}, t.{r["Amount"]}
                """
            : $"""
                UPDATE {r.Name} SET {r["State"]} = {Expired}
                WHERE {r["State"]} = {Active} AND {r["Id"]} IN ({dueRows})
                RETURNING {r["AccountId"]}, {r["Amount"]}
                """;
        DeleteReservationSql = $"DELETE FROM {r.Name} WHERE {r["Id"]} = @id RETURNING {r["Id"]}";
        _stateOf = $"SELECT {r["State"]} FROM {r.Name} WHERE {r["Id"]} = @id";
        _insertLedgerEntry = $"""
            INSERT INTO {l.Name} ({l["Id"]}, {l["AccountId"]}, {l["Kind"]}, {l["Amount"]}, {l["BalanceAfter"]}, {l["IdempotencyKey"]}, {l["ReservationId"]}, {l["Reference"]}, {l["Reason"]}, {l["CreatedAt"]})
            VALUES (@id, @account, @kind, @amount, @balanceAfter, @key, @reservation, @reference, @reason, @created)
            ON CONFLICT ({l["AccountId"]}, {l["IdempotencyKey"]}) DO NOTHING
            RETURNING {l["Id"]}
            """;

        // Charges of a completion batch, after the batch's balance update in the same round trip: each entry's balance
        // after is the account's balance now (after all of the batch's charges) plus the batch's later charges on it
        // (c_later). The rows come from one array per column (PostgreSQL, unnest) or one JSON array of rows (SQLite).
        // The WHERE keeps SQLite from reading the upsert's ON as the join's. They are inserted in batch order within each
        // account whatever the join's plan: an account's later charges sum to less (charges are positive), so descending
        // c_later is that order, and the ledger's sequence reads as a running balance.
        var insertChargeEntries = $$"""
            WITH v (c_id, c_account, c_amount, c_key, c_reservation, c_reference, c_created, c_later) AS ({0})
            INSERT INTO {{l.Name}} ({{l["Id"]}}, {{l["AccountId"]}}, {{l["Kind"]}}, {{l["Amount"]}}, {{l["BalanceAfter"]}}, {{l["IdempotencyKey"]}}, {{l["ReservationId"]}}, {{l["Reference"]}}, {{l["Reason"]}}, {{l["CreatedAt"]}})
            SELECT v.c_id, v.c_account, {{(int)LedgerEntryKind.Charge}}, v.c_amount, b.{{b["Balance"]}} + v.c_later, v.c_key, v.c_reservation, v.c_reference, NULL, v.c_created
            FROM v JOIN {{b.Name}} b ON b.{{b["AccountId"]}} = v.c_account
            WHERE TRUE
            ORDER BY v.c_later DESC
            ON CONFLICT ({{l["AccountId"]}}, {{l["IdempotencyKey"]}}) DO NOTHING
            RETURNING {{l["Id"]}}
            """;
        _insertChargeEntryArrays = insertChargeEntries.Replace(
            "{0}", "SELECT * FROM unnest(@id, @account, @amount, @key, @reservation, @reference, @created, @later)", StringComparison.Ordinal);
        _insertChargeEntryJsonRows = insertChargeEntries.Replace(
            "{0}", JsonRows.Select("id", "account", "amount", "key", "reservation", "reference", "created", "later"), StringComparison.Ordinal);

        var insertReservations = $$"""
            INSERT INTO {{r.Name}} ({{r["Id"]}}, {{r["AccountId"]}}, {{r["Amount"]}}, {{r["IdempotencyKey"]}}, {{r["Reference"]}}, {{r["State"]}}, {{r["CreatedAt"]}}, {{r["ExpiresAt"]}})
            SELECT u.id, u.account, u.amount, u.key, u.reference, {{Active}}, u.created, u.expires
            FROM {0}
            WHERE TRUE
            ON CONFLICT ({{r["AccountId"]}}, {{r["IdempotencyKey"]}}) DO NOTHING
            RETURNING {{r["Id"]}}
            """;
        _insertReservationArrays = insertReservations.Replace(
            "{0}", "unnest(@id, @account, @amount, @key, @reference, @created, @expires) AS u (id, account, amount, key, reference, created, expires)", StringComparison.Ordinal);
        _insertReservationJsonRows = insertReservations.Replace(
            "{0}", JsonRows.Source("u", "id", "account", "amount", "key", "reference", "created", "expires"), StringComparison.Ordinal);
    }

    /// <summary>
    /// Adds the insert of <paramref name="requests"/> as active reservations to <paramref name="batch"/>; <paramref name="read"/>
    /// reads the id of each one inserted (none for a key that exists).
    /// </summary>
    public void AddReservationsInsert(StatementBatch batch, IReadOnlyList<CreditReservationRequest> requests, Func<DbDataReader, CancellationToken, Task> read)
        => batch.Add(batch.Schema.Provider == BillingProvider.PostgreSql ? _insertReservationArrays : _insertReservationJsonRows, read, 7).WithRows(
            requests.Count,
            ("@id", requests.Select(static r => r.ReservationId).ToArray()),
            ("@account", requests.Select(static r => r.AccountId).ToArray()),
            ("@amount", requests.Select(static r => r.Amount.Nanos).ToArray()),
            ("@key", requests.Select(static r => r.IdempotencyKey).ToArray()),
            ("@reference", requests.Select(static r => r.Reference).ToArray()),
            ("@created", requests.Select(static r => StoredTime.ToTicks(r.CreatedAt)).ToArray()),
            ("@expires", requests.Select(static r => StoredTime.ToTicks(r.ExpiresAt)).ToArray()));

    /// <summary>
    /// Adds the insert of the charge <paramref name="entries"/> to <paramref name="batch"/>, each one's balance after
    /// read from its account's balance row (after the batch's balance update) plus <paramref name="later"/>, the
    /// batch's charges after it on the same account; <paramref name="read"/> reads the id of each one inserted.
    /// </summary>
    public void AddChargeEntriesInsert(StatementBatch batch, IReadOnlyList<LedgerEntry> entries, long[] later, Func<DbDataReader, CancellationToken, Task> read)
        => batch.Add(batch.Schema.Provider == BillingProvider.PostgreSql ? _insertChargeEntryArrays : _insertChargeEntryJsonRows, read, 8).WithRows(
            entries.Count,
            ("@id", entries.Select(static e => e.Id).ToArray()),
            ("@account", entries.Select(static e => e.AccountId).ToArray()),
            ("@amount", entries.Select(static e => e.Amount.Nanos).ToArray()),
            ("@key", entries.Select(static e => e.IdempotencyKey).ToArray()),
            ("@reservation", entries.Select(static e => e.ReservationId).ToArray()),
            ("@reference", entries.Select(static e => e.Reference).ToArray()),
            ("@created", entries.Select(static e => StoredTime.ToTicks(e.CreatedAt)).ToArray()),
            ("@later", later));

    /// <summary>Deletes reservation @id (one this transaction inserted and does not keep); returns its id.</summary>
    public string DeleteReservationSql { get; }

    /// <summary>Takes @amount off the holds of @account; returns the holds after.</summary>
    public string ReleaseHoldSql => _releaseHold;

    /// <summary>Creates the account's balance row at zero if it has none.</summary>
    public async Task EnsureBalanceAsync(BillingTransaction transaction, string accountId, CancellationToken cancellationToken)
    {
        await using var command = transaction.Command(_ensureBalance).With("@account", accountId);
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Holds <paramref name="amount"/> if the available balance covers it; the balance after, or null if it does not.</summary>
    public async Task<CreditBalance?> HoldIfAvailableAsync(BillingTransaction transaction, string accountId, long amount, CancellationToken cancellationToken)
    {
        await using var command = transaction.Command(_holdIfAvailable).With("@account", accountId).With("@amount", amount);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        return await reader.ReadAsync(cancellationToken).ConfigureAwait(false)
            ? new CreditBalance(new Money(reader.GetInt64(0)), new Money(reader.GetInt64(1)))
            : null;
    }

    public async Task ReleaseHoldAsync(BillingTransaction transaction, string accountId, long amount, CancellationToken cancellationToken)
    {
        await using var command = transaction.Command(_releaseHold).With("@account", accountId).With("@amount", amount);
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Removes a hold and charges in one statement; the balance after, or null if the account has no balance row.</summary>
    public Task<long?> ChargeAndReleaseHoldAsync(BillingTransaction transaction, string accountId, long held, long charge, CancellationToken cancellationToken)
        => ReadInt64Async(transaction.Command(_chargeAndReleaseHold).With("@account", accountId).With("@held", held).With("@charge", charge), cancellationToken);

    /// <summary>
    /// Adds <paramref name="amount"/> (signed) to the balance if the balance after stays within ±<see cref="CreditBalance.MaxBalance"/>;
    /// with <paramref name="requireAvailable"/> only if the available balance stays at or above zero too. The balance after, or null if refused.
    /// <paramref name="amount"/> must be within ±2 × <see cref="CreditBalance.MaxBalance"/> (a larger one can never be posted).
    /// </summary>
    public Task<long?> PostAsync(BillingTransaction transaction, string accountId, long amount, bool requireAvailable, CancellationToken cancellationToken)
    {
        var max = CreditBalance.MaxBalance.Nanos;
        return ReadInt64Async(transaction.Command(requireAvailable ? _postIfAvailable : _post)
            .With("@account", accountId).With("@amount", amount).With("@high", max - amount).With("@low", -max - amount), cancellationToken);
    }

    /// <summary>Inserts an active reservation; false if one with the same account and idempotency key exists.</summary>
    public Task<bool> InsertReservationAsync(BillingTransaction transaction, CreditReservationRequest request, CancellationToken cancellationToken)
        => InsertAsync(transaction, _insertReservation, statement => statement
            .With("@id", request.ReservationId)
            .With("@account", request.AccountId)
            .With("@amount", request.Amount.Nanos)
            .With("@key", request.IdempotencyKey)
            .With("@reference", request.Reference)
            .With("@created", StoredTime.ToTicks(request.CreatedAt))
            .With("@expires", StoredTime.ToTicks(request.ExpiresAt)), cancellationToken);

    /// <summary>Moves the reservation from <paramref name="from"/> to settled; its account, amount and reference, or null if it was not in that state.</summary>
    public async Task<(string AccountId, long Amount, string? Reference)?> SettleFromAsync(
        BillingTransaction transaction, string reservationId, int from, long charge, CancellationToken cancellationToken)
    {
        await using var command = transaction.Command(_settleFrom).With("@id", reservationId).With("@from", from).With("@charge", charge);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        return await reader.ReadAsync(cancellationToken).ConfigureAwait(false)
            ? (reader.GetString(0), reader.GetInt64(1), reader.IsDBNull(2) ? null : reader.GetString(2))
            : null;
    }

    /// <summary>Moves an active reservation to released; its account and amount, or null if it was not active.</summary>
    public async Task<(string AccountId, long Amount)?> ReleaseAsync(BillingTransaction transaction, string reservationId, CancellationToken cancellationToken)
    {
        await using var command = transaction.Command(_release).With("@id", reservationId);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        return await reader.ReadAsync(cancellationToken).ConfigureAwait(false) ? (reader.GetString(0), reader.GetInt64(1)) : null;
    }

    /// <summary>
    /// Moves up to <paramref name="max"/> due active reservations (past their expiry, or created at or before
    /// <paramref name="createdBeforeTicks"/>) to expired; the account and amount of each. The partial index on the
    /// expiry of active reservations serves both conditions: it holds only the calls in flight, read in expiry order.
    /// </summary>
    public async Task<List<(string AccountId, long Amount)>> ExpireDueAsync(BillingTransaction transaction, long nowTicks, long createdBeforeTicks, int max,
        CancellationToken cancellationToken)
    {
        var expired = new List<(string, long)>();
        await using var command = transaction.Command(_expireDue).With("@now", nowTicks).With("@createdBefore", createdBeforeTicks).With("@max", max);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            expired.Add((reader.GetString(0), reader.GetInt64(1)));
        }

        return expired;
    }

    /// <summary>The reservation's state, or null if there is none with that id.</summary>
    public async Task<ReservationState?> StateOfAsync(BillingTransaction transaction, string reservationId, CancellationToken cancellationToken)
    {
        await using var command = transaction.Command(_stateOf).With("@id", reservationId);
        return await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) is { } state and not DBNull
            ? (ReservationState)Convert.ToInt32(state, System.Globalization.CultureInfo.InvariantCulture)
            : null;
    }

    /// <summary>Inserts a ledger entry; false if the account already has one with the same idempotency key.</summary>
    public Task<bool> InsertLedgerEntryAsync(BillingTransaction transaction, LedgerEntry entry, CancellationToken cancellationToken)
        => InsertAsync(transaction, _insertLedgerEntry, statement => statement
            .With("@id", entry.Id)
            .With("@account", entry.AccountId)
            .With("@kind", (int)entry.Kind)
            .With("@amount", entry.Amount.Nanos)
            .With("@balanceAfter", entry.BalanceAfter.Nanos)
            .With("@key", entry.IdempotencyKey)
            .With("@reservation", entry.ReservationId)
            .With("@reference", entry.Reference)
            .With("@reason", entry.Reason)
            .With("@created", StoredTime.ToTicks(entry.CreatedAt)), cancellationToken);

    /// <summary>Runs one insert whose <c>RETURNING</c> row says that it inserted.</summary>
    private static async Task<bool> InsertAsync(BillingTransaction transaction, string sql, Action<StatementBatch.Statement> bind, CancellationToken cancellationToken)
    {
        var inserted = false;
        var batch = new StatementBatch(transaction);
        bind(batch.Add(sql, async (reader, ct) => inserted = await reader.ReadAsync(ct).ConfigureAwait(false)));
        await batch.ExecuteAsync(cancellationToken).ConfigureAwait(false);
        return inserted;
    }

    private static async Task<long?> ReadInt64Async(DbCommand command, CancellationToken cancellationToken)
    {
        await using (command)
        {
            await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            return await reader.ReadAsync(cancellationToken).ConfigureAwait(false) ? reader.GetInt64(0) : null;
        }
    }
}
