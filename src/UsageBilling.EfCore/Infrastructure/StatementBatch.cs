using System.Data;
using System.Data.Common;
using Microsoft.EntityFrameworkCore;

namespace UsageBilling.EntityFrameworkCore;

/// <summary>
/// Statements of one transaction sent together: in one round trip where the provider batches (<see cref="DbBatch"/>,
/// PostgreSQL), one after the other otherwise (SQLite, which is in process). Each statement returns rows (give
/// inserts and updates a <c>RETURNING</c>: Npgsql gives a statement without rows no result of its own), read by its
/// own reader callback in the order the statements were added. On PostgreSQL the statements are sent with positional
/// parameters (<see cref="PositionalSql"/>).
/// </summary>
internal sealed class StatementBatch
{
    // The commands kept on held SQLite connections, by statement text (KeptCommand).
    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<DbConnection, Dictionary<string, DbCommand>> KeptCommands = new();

    private readonly BillingTransaction _transaction;
    private readonly List<Statement> _statements = [];

    public StatementBatch(BillingTransaction transaction) => _transaction = transaction;

    public BillingSchema Schema => _transaction.Schema;

    // SQLite compiles every command when it first runs, for as long as the command lives (held connections keep theirs:
    // KeptCommand); only on PostgreSQL does a prepared statement outlive its command.
    private bool Prepared => _transaction.Prepare && _transaction.Provider == BillingProvider.PostgreSql;

    // Whether statements run from the held SQLite connection's kept commands (KeptCommand).
    private bool KeepsCommands => _transaction.Prepare && _transaction.Provider == BillingProvider.Sqlite;

    /// <summary>
    /// Adds a statement; <paramref name="read"/> reads its rows (null: they are skipped); <paramref name="parameters"/>:
    /// how many parameters it will have, when known (a multi-row statement's list is then made once at its size).
    /// </summary>
    public Statement Add(string sql, Func<DbDataReader, CancellationToken, Task>? read = null, int parameters = 0)
    {
        var statement = new Statement(sql, read, parameters, _transaction.Provider == BillingProvider.PostgreSql);
        _statements.Add(statement);
        return statement;
    }

    public async Task ExecuteAsync(CancellationToken cancellationToken)
    {
        if (_statements.Count == 0)
        {
            return;
        }

        var dbTransaction = _transaction.DbTransaction;
        var connection = _transaction.Connection;
        if (!connection.CanCreateBatch || _statements.Count == 1)
        {
            foreach (var statement in _statements)
            {
                // On a held SQLite connection a statement's command is kept with its compiled statement, and only bound again.
                var kept = KeepsCommands && dbTransaction is not null ? KeptCommand(dbTransaction, statement.Sql) : null;
                await using var made = kept is null ? _transaction.Command(statement.Sql) : null;
                var command = kept ?? made!;
                command.CommandText = Bind(statement, command.Parameters, command.CreateParameter);
                if (Prepared)
                {
                    await command.PrepareAsync(cancellationToken).ConfigureAwait(false);
                }

                await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
                await ReadAsync(statement, reader, cancellationToken).ConfigureAwait(false);
            }

            return;
        }

        await using var batch = connection.CreateBatch();
        batch.Transaction = dbTransaction;
        if (_transaction.Context.Database.GetCommandTimeout() is { } timeout)
        {
            batch.Timeout = timeout;
        }

        foreach (var statement in _statements)
        {
            var command = batch.CreateBatchCommand();
            command.CommandText = Bind(statement, command.Parameters, command.CreateParameter);

            batch.BatchCommands.Add(command);
        }

        if (Prepared)
        {
            // Npgsql prepares a statement once per connection: on a held connection, later batches only bind and execute.
            await batch.PrepareAsync(cancellationToken).ConfigureAwait(false);
        }

        await using var results = await batch.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        for (var i = 0; i < _statements.Count; i++)
        {
            if (i > 0 && !await results.NextResultAsync(cancellationToken).ConfigureAwait(false))
            {
                throw new InvalidOperationException($"The batch returned {i} results for {_statements.Count} statements.");
            }

            await ReadAsync(_statements[i], results, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// The command kept for <paramref name="sql"/> on the connection of <paramref name="transaction"/>, made on first use,
    /// enlisted in <paramref name="transaction"/> and without parameters, ready to be bound. SQLite compiles a command's
    /// text when it first runs and keeps the compiled statement while the command and its connection live, so a held
    /// connection's group writes parse each of their statements once. Kept as long as the connection object.
    /// </summary>
    private DbCommand KeptCommand(DbTransaction transaction, string sql)
    {
        var commands = KeptCommands.GetValue(transaction.Connection!, static _ => new Dictionary<string, DbCommand>(StringComparer.Ordinal));
        if (commands.TryGetValue(sql, out var command))
        {
            command.Transaction = transaction;
            command.Parameters.Clear();
        }
        else
        {
            command = _transaction.Command(sql);
            commands[sql] = command;
        }

        return command;
    }

    /// <summary>How many commands are kept for <paramref name="connection"/> (for tests).</summary>
    internal static int KeptCommandCount(DbConnection connection) => KeptCommands.TryGetValue(connection, out var commands) ? commands.Count : 0;

    /// <summary>
    /// Adds the statement's parameters to <paramref name="parameters"/> and returns the SQL to send: on PostgreSQL
    /// rewritten to positional parameters, bound in position order; elsewhere as written, bound by name.
    /// </summary>
    private string Bind(Statement statement, DbParameterCollection parameters, Func<DbParameter> create)
    {
        var positional = _transaction.Provider == BillingProvider.PostgreSql ? PositionalSql.Of(statement.Sql) : null;
        foreach (var (name, type, value) in positional?.Order(statement.Parameters) ?? statement.Parameters)
        {
            var parameter = create();
            if (positional is null)
            {
                parameter.ParameterName = name;
            }

            if (type != Statement.ProviderType)
            {
                parameter.DbType = type;
            }

            parameter.Value = value ?? DBNull.Value;
            parameters.Add(parameter);
        }

        return positional?.Sql ?? statement.Sql;
    }

    private static async Task ReadAsync(Statement statement, DbDataReader reader, CancellationToken cancellationToken)
    {
        if (statement.Read is { } read)
        {
            await read(reader, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>One statement of the batch and its parameters.</summary>
    internal sealed class Statement(string sql, Func<DbDataReader, CancellationToken, Task>? read, int parameters, bool arrays)
    {
        /// <summary>Marks a parameter whose type is left to the provider (<see cref="WithArray"/>).</summary>
        internal const DbType ProviderType = (DbType)(-1);

        public string Sql { get; } = sql;

        public Func<DbDataReader, CancellationToken, Task>? Read { get; } = read;

        public List<(string Name, DbType Type, object? Value)> Parameters { get; } = new(parameters);

        public Statement With(string name, string? value) => Add(name, DbType.String, value);

        public Statement With(string name, long value) => Add(name, DbType.Int64, value);

        public Statement With(string name, int value) => Add(name, DbType.Int32, value);

        public Statement With(string name, DbType type, object? value) => Add(name, type, value);

        /// <summary>
        /// A parameter whose database type the provider infers from the value's CLR type (PostgreSQL: an array, such as
        /// <c>long?[]</c> for <c>bigint[]</c>).
        /// </summary>
        public Statement WithArray(string name, Array values) => Add(name, ProviderType, values);

        /// <summary>
        /// A group's <paramref name="rows"/> rows, given as one array per column: on PostgreSQL one array parameter per
        /// column (read with <c>unnest</c>), elsewhere one JSON array of rows in <see cref="JsonRows.Parameter"/> (read
        /// with <see cref="JsonRows.Source"/> or <see cref="JsonRows.Select"/>, columns in this order).
        /// </summary>
        public Statement WithRows(int rows, params ReadOnlySpan<(string Name, Array Values)> columns)
        {
            if (arrays)
            {
                foreach (var (name, column) in columns)
                {
                    WithArray(name, column);
                }

                return this;
            }

            var values = new Array[columns.Length];
            for (var c = 0; c < columns.Length; c++)
            {
                values[c] = columns[c].Values;
            }

            return Add(JsonRows.Parameter, DbType.Binary, JsonRows.Of(rows, values));
        }

        private Statement Add(string name, DbType type, object? value)
        {
            Parameters.Add((name, type, value));
            return this;
        }
    }
}
