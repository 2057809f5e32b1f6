using System.Data.Common;
using Microsoft.EntityFrameworkCore;

namespace UsageBilling.EntityFrameworkCore;

/// <summary>
/// The Entity Framework Core <see cref="IUsageStore"/>. A batch is written with one statement fed from an array per
/// column (PostgreSQL) or one JSON array of rows (SQLite),
/// <c>INSERT ... ON CONFLICT (request_id) DO NOTHING</c>, in one transaction, so a retried batch never
/// duplicates a record. Reads page newest first by (timestamp in milliseconds, request id), as <see cref="UsageCursor"/> does.
/// </summary>
internal sealed class EfCoreUsageStore<TContext> : IUsageStore where TContext : DbContext
{
    /// <summary>
    /// The columns a record is written to (entity property names) and, for a batch of records, each column's values as
    /// one typed array: PostgreSQL infers the array's type from it; SQLite gets them as JSON rows.
    /// </summary>
    private static readonly (string Column, Func<IReadOnlyList<UsageRecord>, Array> Values)[] Columns =
    [
        (nameof(UsageRecordEntity.RequestId), static rs => Column(rs, static r => r.RequestId)),
        (nameof(UsageRecordEntity.Timestamp), static rs => Column(rs, static r => (long?)r.Timestamp.ToUnixTimeMilliseconds())),
        (nameof(UsageRecordEntity.KeyId), static rs => Column(rs, static r => r.KeyId)),
        (nameof(UsageRecordEntity.AccountId), static rs => Column(rs, static r => r.AccountId)),
        (nameof(UsageRecordEntity.Method), static rs => Column(rs, static r => r.Method)),
        (nameof(UsageRecordEntity.Route), static rs => Column(rs, static r => r.Route)),
        (nameof(UsageRecordEntity.StatusCode), static rs => Column(rs, static r => (int?)r.StatusCode)),
        (nameof(UsageRecordEntity.DurationMs), static rs => Column(rs, static r => (double?)r.DurationMs)),
        (nameof(UsageRecordEntity.Cost), static rs => Column(rs, static r => (long?)r.Cost.Nanos)),
        (nameof(UsageRecordEntity.Outcome), static rs => Column(rs, static r => r.Outcome)),
        (nameof(UsageRecordEntity.IdempotencyKey), static rs => Column(rs, static r => r.IdempotencyKey)),
        (nameof(UsageRecordEntity.Model), static rs => Column(rs, static r => r.Model)),
        (nameof(UsageRecordEntity.InputTokens), static rs => Column(rs, static r => r.InputTokens)),
        (nameof(UsageRecordEntity.OutputTokens), static rs => Column(rs, static r => r.OutputTokens)),
        (nameof(UsageRecordEntity.CachedInputTokens), static rs => Column(rs, static r => r.CachedInputTokens)),
        (nameof(UsageRecordEntity.TokensEstimated), static rs => Column(rs, static r => (bool?)r.TokensEstimated)),
        (nameof(UsageRecordEntity.Streamed), static rs => Column(rs, static r => (bool?)r.Streamed)),
        (nameof(UsageRecordEntity.ClientAborted), static rs => Column(rs, static r => (bool?)r.ClientAborted)),
        (nameof(UsageRecordEntity.CostBreakdown), static rs => Column(rs, static r => r.CostBreakdown)),
    ];

    /// <summary>The parameter of each column's array, in <see cref="Columns"/> order.</summary>
    private static readonly string[] ParameterNames = [.. Enumerable.Range(0, Columns.Length).Select(static c => $"@c{c}")];

    private static readonly System.Collections.Concurrent.ConcurrentDictionary<(string Table, BillingProvider Provider), string> InsertSqls = new();

    private readonly BillingDatabase<TContext> _database;

    public EfCoreUsageStore(BillingDatabase<TContext> database) => _database = database;

    public async ValueTask AppendAsync(IReadOnlyList<UsageRecord> records, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(records);

        // The first record with an id wins, as it would had the duplicates come in separate batches.
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var unique = records.Where(r => seen.Add(r.RequestId)).ToList();
        if (unique.Count == 0)
        {
            return;
        }

        await _database.WriteAsync(async (transaction, ct) =>
        {
            await InsertAsync(transaction, unique, ct).ConfigureAwait(false);
            await transaction.CommitAsync(ct).ConfigureAwait(false);
            return true;
        }, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Inserts records with distinct request ids in <paramref name="transaction"/>; a record whose id is stored already is skipped.</summary>
    internal static async Task InsertAsync(BillingTransaction transaction, IReadOnlyList<UsageRecord> unique, CancellationToken cancellationToken)
    {
        if (unique.Count == 0)
        {
            return;
        }

        var batch = new StatementBatch(transaction);
        AddInsert(batch, unique);
        await batch.ExecuteAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Adds the insert of records with distinct request ids to <paramref name="batch"/>: every record in one statement
    /// whatever their number (a record whose id is stored already is skipped), fed from one array per column
    /// (PostgreSQL, <c>unnest</c>) or one JSON array of rows (SQLite, <see cref="JsonRows"/>).
    /// </summary>
    internal static void AddInsert(StatementBatch batch, IReadOnlyList<UsageRecord> unique)
    {
        if (unique.Count == 0)
        {
            return;
        }

        var columns = new (string Name, Array Values)[Columns.Length];
        for (var c = 0; c < columns.Length; c++)
        {
            columns[c] = (ParameterNames[c], Columns[c].Values(unique));
        }

        batch.Add(InsertSql(batch.Schema), parameters: columns.Length).WithRows(unique.Count, columns);
    }

    private static T[] Column<T>(IReadOnlyList<UsageRecord> records, Func<UsageRecord, T> value)
    {
        var values = new T[records.Count];
        for (var r = 0; r < values.Length; r++)
        {
            values[r] = value(records[r]);
        }

        return values;
    }

    public ValueTask<UsagePage> QueryAsync(UsageQuery query, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(query);
        ArgumentOutOfRangeException.ThrowIfLessThan(query.Limit, 1);
        var after = UsageCursor.Decode(query.Cursor);
        return _database.ReadAsync(static async (context, schema, state) =>
        {
            var (query, after, cancellationToken) = state;
            var rows = context.Set<UsageRecordEntity>().AsNoTracking();
            if (query.AccountId is { } accountId)
            {
                rows = rows.Where(r => r.AccountId == accountId);
            }

            if (query.KeyId is { } keyId)
            {
                rows = rows.Where(r => r.KeyId == keyId);
            }

            // Stored times are whole milliseconds: "at or after From" and "before To" both compare with From and To rounded up.
            if (query.From is { } from)
            {
                var fromMs = StoredTime.CeilingUnixMilliseconds(from);
                rows = rows.Where(r => r.Timestamp >= fromMs);
            }

            if (query.To is { } to)
            {
                var toMs = StoredTime.CeilingUnixMilliseconds(to);
                rows = rows.Where(r => r.Timestamp < toMs);
            }

            // Request ids break ties in ordinal order: PostgreSQL compares them with the "C" collation, SQLite's default is binary.
            var collateC = schema.Provider == BillingProvider.PostgreSql;
            if (after is { } cursor)
            {
                var cursorMs = cursor.Timestamp.ToUnixTimeMilliseconds();
                var cursorId = cursor.RequestId;
                rows = collateC
                    ? rows.Where(r => r.Timestamp < cursorMs || (r.Timestamp == cursorMs && EF.Functions.Collate(r.RequestId, "C").CompareTo(cursorId) < 0))
                    : rows.Where(r => r.Timestamp < cursorMs || (r.Timestamp == cursorMs && r.RequestId.CompareTo(cursorId) < 0));
            }

            var ordered = collateC
                ? rows.OrderByDescending(r => r.Timestamp).ThenByDescending(r => EF.Functions.Collate(r.RequestId, "C"))
                : rows.OrderByDescending(r => r.Timestamp).ThenByDescending(r => r.RequestId);
            var page = await ordered.Take(Math.Min(query.Limit, int.MaxValue - 1) + 1).ToListAsync(cancellationToken).ConfigureAwait(false);
            var records = page.Take(query.Limit).Select(r => r.ToRecord()).ToList();
            var next = page.Count > query.Limit ? UsageCursor.Encode(records[^1]) : null;
            return new UsagePage(records, next);
        }, (query, after, cancellationToken), cancellationToken);
    }

    public ValueTask<IReadOnlyList<UsageSummary>> SummarizeAsync(UsageSummaryQuery query, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(query);
        return _database.ReadAsync(static async (context, schema, state) =>
        {
            var (query, cancellationToken) = state;
            await context.Database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
            await using var command = context.Database.GetDbConnection().CreateCommand();
            command.CommandText = UsageSummarySql.Build(schema, query);
            if (context.Database.GetCommandTimeout() is { } timeout)
            {
                command.CommandTimeout = timeout;
            }

            // Stored times are whole milliseconds: "at or after From" and "before To" both compare with them rounded up.
            command.With("@from", StoredTime.CeilingUnixMilliseconds(query.From))
                .With("@to", StoredTime.CeilingUnixMilliseconds(query.To));
            if (query.AccountId is not null)
            {
                command.With("@account", query.AccountId);
            }

            if (query.KeyId is not null)
            {
                command.With("@key", query.KeyId);
            }

            var rows = new List<UsageSummary>();
            await using (var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false))
            {
                while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
                {
                    rows.Add(new UsageSummary
                    {
                        Group = reader.IsDBNull(0) ? null : reader.GetString(0),
                        Requests = reader.GetInt64(1),
                        Errors = reader.GetInt64(2),
                        InputTokens = reader.GetInt64(3),
                        CachedInputTokens = reader.GetInt64(4),
                        OutputTokens = reader.GetInt64(5),
                        Cost = new Money(reader.GetInt64(6)),
                        AverageDurationMs = reader.GetDouble(7),
                        P95DurationMs = reader.GetDouble(8),
                    });
                }
            }

            // One row of zeros for an empty period when nothing is grouped, as the reference aggregation gives.
            if (query.GroupBy == UsageGrouping.None && rows.Count == 0 && query.Limit is not <= 0)
            {
                rows.Add(new UsageSummary());
            }

            IReadOnlyList<UsageSummary> summaries = rows;
            return summaries;
        }, (query, cancellationToken), cancellationToken);
    }

    /// <summary>
    /// PostgreSQL: the usage table's columns a record is written to, in order, and a source of rows for them,
    /// <c>unnest(@c0, ..., extra) AS alias (c0, ..., extra)</c> — for statements that insert records among other work
    /// (<see cref="AddColumns"/> binds the arrays).
    /// </summary>
    internal static (string Columns, string Values, string Source) PostgresRows(BillingSchema schema, string alias, string extraParameter, string extraColumn)
    {
        var table = schema.Usage;
        var names = Enumerable.Range(0, Columns.Length).Select(static c => $"c{c}").ToArray();
        return (
            string.Join(", ", Columns.Select(c => table[c.Column])),
            string.Join(", ", names.Select(n => $"{alias}.{n}")),
            $"unnest({string.Join(", ", ParameterNames)}, {extraParameter}) AS {alias} ({string.Join(", ", names)}, {extraColumn})");
    }

    /// <summary>Binds the column arrays of <paramref name="records"/> that <see cref="PostgresRows"/> reads.</summary>
    internal static StatementBatch.Statement AddColumns(StatementBatch.Statement statement, IReadOnlyList<UsageRecord> records)
    {
        for (var c = 0; c < Columns.Length; c++)
        {
            statement.WithArray(ParameterNames[c], Columns[c].Values(records));
        }

        return statement;
    }

    /// <summary>
    /// The insert of any number of records, made once per table: from one array per column (PostgreSQL, <c>unnest</c>)
    /// or one JSON array of rows (SQLite). RETURNING: a statement of a PostgreSQL batch must return rows to have a
    /// result of its own (<see cref="StatementBatch"/>).
    /// </summary>
    private static string InsertSql(BillingSchema schema) => InsertSqls.GetOrAdd((schema.Usage.Name, schema.Provider), static (key, table) =>
    {
        var requestId = table[nameof(UsageRecordEntity.RequestId)];
        var source = key.Provider == BillingProvider.PostgreSql
            ? $"SELECT * FROM unnest({string.Join(", ", ParameterNames)})"
            : JsonRows.Select([.. ParameterNames.Select(static p => p.TrimStart('@'))]);
        return $"INSERT INTO {table.Name} ({string.Join(", ", Columns.Select(c => table[c.Column]))}) {source} WHERE TRUE "
            + $"ON CONFLICT ({requestId}) DO NOTHING RETURNING {requestId}";
    }, schema.Usage);
}
