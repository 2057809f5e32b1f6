using System.Data;
using System.Data.Common;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Storage;

namespace UsageBilling.EntityFrameworkCore;

/// <summary>
/// One database transaction of a store operation. Nothing is kept unless the operation calls <see cref="CommitAsync"/>;
/// returning without it rolls everything back. Or, when <see cref="Autocommit"/>, no explicit transaction: each
/// command (a batch of statements on PostgreSQL) is a transaction of its own, committed as it runs.
/// </summary>
internal sealed class BillingTransaction
{
    private readonly IDbContextTransaction? _transaction;
    private bool _shared;

    public BillingTransaction(DbContext context, IDbContextTransaction? transaction, BillingSchema schema, bool prepare = false)
    {
        Context = context;
        _transaction = transaction;
        Schema = schema;
        Prepare = prepare;
    }

    public DbContext Context { get; }

    public BillingSchema Schema { get; }

    public BillingProvider Provider => Schema.Provider;

    /// <summary>
    /// Whether the connection is held between writes (<see cref="HeldContext{TContext}"/>), so that statements prepared on
    /// it are used again: <see cref="StatementBatch"/> prepares its statements on PostgreSQL.
    /// </summary>
    public bool Prepare { get; }

    /// <summary>Whether there is no explicit transaction: every command commits as it runs.</summary>
    public bool Autocommit => _transaction is null;

    /// <summary>The ADO.NET transaction, for batches; null in <see cref="Autocommit"/> mode.</summary>
    public DbTransaction? DbTransaction => _transaction?.GetDbTransaction();

    /// <summary>The connection the commands run on.</summary>
    public DbConnection Connection => DbTransaction?.Connection ?? Context.Database.GetDbConnection();

    /// <summary>A command on the transaction's connection, enlisted in it.</summary>
    public DbCommand Command(string sql)
    {
        var transaction = DbTransaction;
        var command = Connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        if (Context.Database.GetCommandTimeout() is { } timeout)
        {
            command.CommandTimeout = timeout;
        }

        return command;
    }

    /// <summary>
    /// Commits; or, for one write among several sharing a transaction (<see cref="Part"/>), marks the write to be kept: the
    /// transaction commits once every write in it has run.
    /// </summary>
    public Task CommitAsync(CancellationToken cancellationToken)
    {
        if (_shared)
        {
            Kept = true;
            return Task.CompletedTask;
        }

        // Without an explicit transaction every command has committed already.
        return _transaction?.CommitAsync(cancellationToken) ?? Task.CompletedTask;
    }

    /// <summary>For a write sharing the transaction (<see cref="Part"/>): whether it called <see cref="CommitAsync"/>.</summary>
    public bool Kept { get; private set; }

    /// <summary>The same transaction for one of several writes that share it: its <see cref="CommitAsync"/> only marks the write kept.</summary>
    internal BillingTransaction Part() => new(Context, _transaction, Schema, Prepare) { _shared = true };

    internal Task SavepointAsync(string name, CancellationToken cancellationToken) => Explicit.CreateSavepointAsync(name, cancellationToken);

    internal Task ReleaseSavepointAsync(string name, CancellationToken cancellationToken) => Explicit.ReleaseSavepointAsync(name, cancellationToken);

    internal Task RollbackToSavepointAsync(string name, CancellationToken cancellationToken) => Explicit.RollbackToSavepointAsync(name, cancellationToken);

    private IDbContextTransaction Explicit => _transaction ?? throw new InvalidOperationException("A write without a transaction has no savepoints.");
}

/// <summary>Adds typed parameters to commands (the same <c>@name</c> syntax works on SQLite and PostgreSQL).</summary>
internal static class DbCommandParameters
{
    public static DbCommand With(this DbCommand command, string name, string? value) => Add(command, name, DbType.String, value);

    public static DbCommand With(this DbCommand command, string name, long value) => Add(command, name, DbType.Int64, value);

    public static DbCommand With(this DbCommand command, string name, long? value) => Add(command, name, DbType.Int64, value);

    public static DbCommand With(this DbCommand command, string name, int value) => Add(command, name, DbType.Int32, value);

    public static DbCommand With(this DbCommand command, string name, bool value) => Add(command, name, DbType.Boolean, value);

    public static DbCommand With(this DbCommand command, string name, double value) => Add(command, name, DbType.Double, value);

    public static DbCommand With(this DbCommand command, string name, DbType type, object? value) => Add(command, name, type, value);

    private static DbCommand Add(DbCommand command, string name, DbType type, object? value)
    {
        var parameter = command.CreateParameter();
        parameter.ParameterName = name;
        parameter.DbType = type;
        parameter.Value = value ?? DBNull.Value;
        command.Parameters.Add(parameter);
        return command;
    }
}
