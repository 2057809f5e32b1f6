using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace UsageBilling.EntityFrameworkCore;

/// <summary>
/// How the stores reach the database of <typeparamref name="TContext"/>: a short-lived context per operation (from
/// <see cref="IDbContextFactory{TContext}"/> when registered, otherwise from a new scope), reads as they are, and writes
/// in one transaction each, taking turns per SQLite file and run again on a busy database, a serialization failure or
/// a deadlock. The context's execution strategy (for example <c>EnableRetryOnFailure()</c>) wraps every attempt.
/// </summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001", Justification = "The stores that use the group writers' held contexts dispose them (GroupWriterContextAsync says why).")]
internal sealed partial class BillingDatabase<TContext> where TContext : DbContext
{
    private const int MaxAttempts = 8;

    private readonly IServiceProvider _services;
    private readonly ILogger _logger;
    private readonly bool _sqliteNormalSync;
    private readonly HeldContext<TContext> _admissionsWriter = new();
    private readonly HeldContext<TContext> _completionsWriter = new();
    private BillingSchema? _schema;
    private SqliteWriteGate? _sqliteGate;
    private long _sharedTransactions;

    public BillingDatabase(IServiceProvider services, ILogger<BillingDatabase<TContext>> logger)
    {
        _services = services;
        _logger = logger;
        _sqliteNormalSync = services.GetService<IOptions<UsageBillingEntityFrameworkCoreOptions>>()?.Value.SqliteFlushEveryCommit == false;
    }

    /// <summary>Runs a read on a new context; <paramref name="state"/> carries the read's arguments.</summary>
    public async ValueTask<T> ReadAsync<TState, T>(Func<TContext, BillingSchema, TState, Task<T>> read, TState state, CancellationToken cancellationToken)
    {
        await using var lease = await LeaseAsync(cancellationToken).ConfigureAwait(false);
        var context = lease.Context;
        var schema = SchemaOf(context);
        var strategy = context.Database.CreateExecutionStrategy();
        return await strategy.ExecuteAsync(
            (read, schema, state),
            static (context, s, _) => s.read((TContext)context, s.schema, s.state),
            null,
            cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// The context a group writer keeps between its groups (<see cref="HeldContext{TContext}"/>). On PostgreSQL each
    /// writer has its own, so that admissions and completions are written at the same time. SQLite has one writer per
    /// file, so both write on one connection: a commit on another connection makes SQLite drop a connection's whole page
    /// cache, and two connections taking turns would each read every page they touch again. The store that uses it
    /// disposes it (both may, on SQLite): a kept context must be given back before the services it was made from are
    /// disposed, and the container disposes the stores before what they were built on.
    /// </summary>
    public async ValueTask<HeldContext<TContext>> GroupWriterContextAsync(GroupWriterRole role, CancellationToken cancellationToken)
    {
        var schema = _schema;
        if (schema is null)
        {
            await using var lease = await LeaseAsync(cancellationToken).ConfigureAwait(false);
            schema = SchemaOf(lease.Context);
        }

        return role == GroupWriterRole.Completions && schema.Provider != BillingProvider.Sqlite ? _completionsWriter : _admissionsWriter;
    }

    /// <summary>
    /// Runs <paramref name="write"/> in a transaction on a new context, or on the context <paramref name="held"/> keeps
    /// between writes (its connection left open, and on PostgreSQL the batches' statements prepared on it). The write
    /// commits through <see cref="BillingTransaction.CommitAsync"/>; the whole write may run more than once, so it must
    /// not keep state between attempts. With <paramref name="autocommit"/> (PostgreSQL only) no transaction is begun:
    /// each of the write's commands is a transaction of its own, committed in its own round trip.
    /// </summary>
    public async ValueTask<T> WriteAsync<T>(Func<BillingTransaction, CancellationToken, Task<T>> write, CancellationToken cancellationToken,
        HeldContext<TContext>? held = null, bool autocommit = false)
    {
        if (autocommit && _schema is { Provider: not BillingProvider.PostgreSql })
        {
            throw new InvalidOperationException("Only PostgreSQL writes run without a transaction.");
        }

        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return held is not null && _schema?.Provider == BillingProvider.Sqlite
                    ? await SharedAsync(write, held).ConfigureAwait(false)
                    : await AttemptAsync(write, held, cancellationToken, autocommit).ConfigureAwait(false);
            }
            catch (Exception ex) when (attempt < MaxAttempts && _schema is { } schema && TransientDatabaseErrors.IsRetryable(ex, schema.Provider))
            {
                Log.WriteRetried(_logger, attempt, ex);
                var delay = TimeSpan.FromMilliseconds(Math.Min(1000, 5 * (1 << attempt)) * (0.5 + Random.Shared.NextDouble()));
                await Task.Delay(delay, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>The provider, once a context has been seen (a group writer's context is made after it).</summary>
    public BillingProvider? Provider => _schema?.Provider;

    /// <summary>The most group writes one SQLite transaction carries (<see cref="SharedAsync"/>).</summary>
    internal const int MaxSharedWrites = 8;

    /// <summary>How many SQLite transactions carried more than one group write (for tests).</summary>
    internal long SharedTransactions => Interlocked.Read(ref _sharedTransactions);

    /// <summary>
    /// SQLite: the group writes on the held connection share transactions — one commit, one flush of the log, for
    /// several. SQLite has one writer per file, so the admission and completion writers take turns there anyway; under
    /// load the next group of one is ready while the other's is being written, and it then joins that transaction
    /// before its commit instead of waiting for it and committing on its own. Each write runs in a savepoint of its
    /// own: one that throws, or returns without committing, keeps nothing and leaves the others to commit; its caller
    /// gets what it threw, and the connection is given back afterwards, as after any failed write. A write never
    /// waits to be joined: one that finds the connection free starts at once. The writes are not cancelled (the group
    /// writers give none a token to honour).
    /// </summary>
    private async Task<T> SharedAsync<T>(Func<BillingTransaction, CancellationToken, Task<T>> write, HeldContext<TContext> held)
    {
        var shared = new SharedWrite(async (transaction, ct) => await write(transaction, ct).ConfigureAwait(false));
        if (held.Wait(shared))
        {
            _ = WriteWaitingAsync(held);
        }

        return (T)(await shared.Done.Task.ConfigureAwait(false))!;
    }

    private async Task WriteWaitingAsync(HeldContext<TContext> held)
    {
        for (var first = held.TakeNext(); first is not null; first = held.TakeNext())
        {
            var writes = new List<SharedWrite>(2) { first };
            try
            {
                await AttemptAsync((transaction, ct) => WriteTogetherAsync(transaction, writes, held, ct), held, CancellationToken.None).ConfigureAwait(false);
                if (writes.Count > 1)
                {
                    Interlocked.Increment(ref _sharedTransactions);
                }
            }
            catch (Exception ex)
            {
                // Nothing was committed: every write of the transaction fails with it (their callers retry what may be).
                foreach (var failed in writes)
                {
                    failed.Error = ex;
                }
            }

            if (writes.Exists(static w => w.Error is not null) && held.Take() is { } lease)
            {
                // After a failed write the connection may be broken: the next write takes a new one.
                try
                {
                    await lease.DisposeAsync().ConfigureAwait(false);
                }
                catch (Exception ex)
                {
                    // Nobody awaits this loop: closing a broken connection must not keep the writes' callers waiting.
                    Log.HeldContextNotClosed(_logger, ex);
                }
            }

            foreach (var written in writes)
            {
                _ = written.Error is { } error ? written.Done.TrySetException(error) : written.Done.TrySetResult(written.Result);
            }
        }
    }

    /// <summary>Runs <paramref name="writes"/>, and those queued meanwhile (up to <see cref="MaxSharedWrites"/>), each in its savepoint; then commits.</summary>
    private static async Task<bool> WriteTogetherAsync(BillingTransaction transaction, List<SharedWrite> writes, HeldContext<TContext> held,
        CancellationToken cancellationToken)
    {
        // This may run again (the execution strategy's retry): every write taken so far starts over.
        for (var i = 0; ; i++)
        {
            if (i == writes.Count)
            {
                // Joined by a write queued meanwhile (the other writer's next group), while the transaction carries few enough.
                if (writes.Count == MaxSharedWrites || held.TakeQueued() is not { } joined)
                {
                    break;
                }

                writes.Add(joined);
            }

            var write = writes[i];
            write.Result = null;
            write.Error = null;
            var savepoint = "usagebilling_write_" + i.ToString(System.Globalization.CultureInfo.InvariantCulture);
            await transaction.SavepointAsync(savepoint, cancellationToken).ConfigureAwait(false);
            var part = transaction.Part();
            try
            {
                write.Result = await write.Write(part, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                write.Error = ex;
            }

            if (write.Error is not null || !part.Kept)
            {
                await transaction.RollbackToSavepointAsync(savepoint, cancellationToken).ConfigureAwait(false);
            }

            await transaction.ReleaseSavepointAsync(savepoint, cancellationToken).ConfigureAwait(false);
        }

        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        return true;
    }

    private async Task<T> AttemptAsync<T>(Func<BillingTransaction, CancellationToken, Task<T>> write, HeldContext<TContext>? held, CancellationToken cancellationToken,
        bool autocommit = false)
    {
        // On SQLite the turn comes before the context: the context the group writers share is free once a write has the turn.
        var turn = _sqliteGate is { } gate ? await gate.EnterAsync(cancellationToken).ConfigureAwait(false) : default;
        try
        {
            var lease = held?.Take() ?? await LeaseAsync(cancellationToken).ConfigureAwait(false);
            var keep = false;
            try
            {
                var context = lease.Context;
                var schema = SchemaOf(context);
                if (schema.Provider == BillingProvider.Sqlite)
                {
                    if (!turn.Taken)
                    {
                        // The first write: the gate was not known before the schema.
                        turn = await _sqliteGate!.EnterAsync(cancellationToken).ConfigureAwait(false);
                    }

                    if (held is not null && context.Database.GetDbConnection().State != System.Data.ConnectionState.Open)
                    {
                        // A group writer's connection, opened here to be kept.
                        await context.Database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
                        await ConfigureGroupWriterAsync(context, cancellationToken).ConfigureAwait(false);
                    }

                    if (!_sqliteGate!.Prepared)
                    {
                        await UseWriteAheadLogAsync(context, _sqliteGate, cancellationToken).ConfigureAwait(false);
                    }

                    if (_sqliteNormalSync)
                    {
                        await UseNormalSyncAsync(context, cancellationToken).ConfigureAwait(false);
                    }
                }

                var strategy = context.Database.CreateExecutionStrategy();
                var result = await strategy.ExecuteAsync(
                    (write, schema, held: held is not null, autocommit),
                    static async (context, state, cancellationToken) =>
                    {
                        if ((state.held || state.autocommit) && context.Database.GetDbConnection().State != System.Data.ConnectionState.Open)
                        {
                            // Opened by hand, EF Core leaves it open after each transaction, for the next write. Checked
                            // on every attempt: after a broken connection the execution strategy's retry opens a new one.
                            await context.Database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
                        }

                        if (state.autocommit)
                        {
                            return await state.write(new BillingTransaction(context, null, state.schema, prepare: state.held), cancellationToken).ConfigureAwait(false);
                        }

                        await using var transaction = await context.Database.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
                        return await state.write(new BillingTransaction(context, transaction, state.schema, prepare: state.held), cancellationToken).ConfigureAwait(false);
                    },
                    null,
                    cancellationToken).ConfigureAwait(false);

                // The writers run raw SQL and track no entities, so a kept context carries nothing into the next write.
                keep = held is not null;
                return result;
            }
            finally
            {
                // Given back before the turn, so that the next writer finds it. A failed write gives its context back:
                // its connection may be broken, and the next write takes a new one.
                if (!keep || !held!.Return(lease))
                {
                    await lease.DisposeAsync().ConfigureAwait(false);
                }
            }
        }
        finally
        {
            turn.Dispose();
        }
    }

    /// <summary>The schema, read from the first context; on SQLite also the file's write gate.</summary>
    private BillingSchema SchemaOf(DbContext context)
    {
        if (_schema is { } known)
        {
            return known;
        }

        var schema = BillingSchema.Read(context);
        if (schema.Provider == BillingProvider.Sqlite)
        {
            _sqliteGate ??= SqliteWriteGate.For(context.Database.GetDbConnection());
        }

        return _schema = schema;
    }

    /// <summary>A new context, and the scope it came from when there is no context factory.</summary>
    public async ValueTask<ContextLease> LeaseAsync(CancellationToken cancellationToken)
    {
        if (_services.GetService<IDbContextFactory<TContext>>() is { } factory)
        {
            return new ContextLease(await factory.CreateDbContextAsync(cancellationToken).ConfigureAwait(false), null);
        }

        var scope = _services.CreateAsyncScope();
        try
        {
            var context = scope.ServiceProvider.GetService<TContext>()
                ?? throw new InvalidOperationException(
                    $"UsageBilling needs '{typeof(TContext).Name}' from services.AddDbContextFactory<{typeof(TContext).Name}>() (preferred) or services.AddDbContext<{typeof(TContext).Name}>().");
            return new ContextLease(context, scope);
        }
        catch
        {
            await scope.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    // Readers and the writer do not block each other in write-ahead-log mode; the setting is kept in the database file.
    private async Task UseWriteAheadLogAsync(DbContext context, SqliteWriteGate gate, CancellationToken cancellationToken)
    {
        try
        {
            await context.Database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
            await using var command = context.Database.GetDbConnection().CreateCommand();
            command.CommandText = "PRAGMA journal_mode=WAL;";
            var mode = await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) as string;
            Log.JournalMode(_logger, mode ?? "unknown");
            gate.MarkPrepared();
        }
        catch (Exception ex) when (TransientDatabaseErrors.IsRetryable(ex, BillingProvider.Sqlite))
        {
            // Another process holds a lock: the write goes ahead in the current mode and the next write tries again.
        }
        catch (Exception ex) when (ex is System.Data.Common.DbException or InvalidOperationException)
        {
            Log.JournalModeFailed(_logger, ex);
            gate.MarkPrepared();
        }
    }

    /// <summary>
    /// How many pages the write-ahead log grows to before the group writers' connection copies it into the database file
    /// (SQLite's default is 1,000). A group of calls on many accounts dirties a page per account in each per-account
    /// index, a hundred or so pages per commit: at the default the log was copied back tens of times a second, each time
    /// writing the same hot pages again and flushing the database file. Ten times fewer checkpoints, each larger: the
    /// log reaches about 40 MB (4 KB pages) before it is reused.
    /// </summary>
    internal const int SqliteCheckpointPages = 10_000;

    // Settings of the connection, made when a group writer opens it (its connection is the one that writes nearly
    // everything; other writes take pooled connections as they are): temporary tables, indexes and statement journals in
    // memory instead of files created and deleted on the way (a group's statements needed one every few transactions),
    // and the write-ahead log checkpointed every SqliteCheckpointPages pages (a connection checkpoints when its own
    // commit takes the log past its own setting).
    private static async Task ConfigureGroupWriterAsync(DbContext context, CancellationToken cancellationToken)
    {
        await using var command = context.Database.GetDbConnection().CreateCommand();
        command.CommandText = FormattableString.Invariant($"PRAGMA temp_store=MEMORY; PRAGMA wal_autocheckpoint={SqliteCheckpointPages};");
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    // A setting of the connection, not of the file: set on every write, since a pooled connection may be a new one.
    private static async Task UseNormalSyncAsync(DbContext context, CancellationToken cancellationToken)
    {
        await context.Database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var command = context.Database.GetDbConnection().CreateCommand();
        command.CommandText = "PRAGMA synchronous=NORMAL;";
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Disposes the context, and its scope if it came from one.</summary>
    internal readonly struct ContextLease(TContext context, AsyncServiceScope? scope) : IAsyncDisposable, IDisposable
    {
        public TContext Context { get; } = context;

        public void Dispose()
        {
            if (scope is { } owned)
            {
                owned.Dispose();
            }
            else
            {
                Context.Dispose();
            }
        }

        public async ValueTask DisposeAsync()
        {
            if (scope is { } owned)
            {
                await owned.DisposeAsync().ConfigureAwait(false);
            }
            else
            {
                await Context.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Debug, "A UsageBilling write met a transient database error and runs again (attempt {Attempt}).", EventName = "WriteRetried")]
        public static partial void WriteRetried(ILogger logger, int attempt, Exception exception);

        [LoggerMessage(2, LogLevel.Debug, "UsageBilling's SQLite database uses journal mode {Mode}.", EventName = "SqliteJournalMode")]
        public static partial void JournalMode(ILogger logger, string mode);

        [LoggerMessage(3, LogLevel.Warning, "UsageBilling could not switch its SQLite database to write-ahead logging; reads may wait for writes.", EventName = "SqliteJournalModeFailed")]
        public static partial void JournalModeFailed(ILogger logger, Exception exception);

        [LoggerMessage(4, LogLevel.Warning, "Closing UsageBilling's SQLite write connection after a failed write failed; the next write opens a new one.", EventName = "HeldContextNotClosed")]
        public static partial void HeldContextNotClosed(ILogger logger, Exception exception);
    }
}
