using System.Data.Common;
using System.Diagnostics.Metrics;
using Microsoft.EntityFrameworkCore.Diagnostics;

namespace UsageBilling.LoadBenchmark;

/// <summary>
/// Counts, in a subject's host process, what the EF Core stores send to the database: every command (a round trip)
/// and every statement in it by verb, every transaction begin / commit / rollback, and every connection open. Registered on
/// the context options with <c>AddInterceptors(StatementCounter.Interceptors)</c>. On PostgreSQL it also counts the
/// operations Npgsql itself reports (meter <c>Npgsql</c>, <c>db.client.operation.duration</c>), which include commands
/// run as raw SQL outside EF.
/// </summary>
internal static class StatementCounter
{
    private static readonly string[] Verbs = ["SELECT", "INSERT", "UPDATE", "DELETE", "WITH", "OTHER"];
    private static readonly long[] StatementsByVerb = new long[Verbs.Length];
    private static long s_commands;
    private static long s_begins;
    private static long s_commits;
    private static long s_rollbacks;
    private static long s_opens;
    private static long s_npgsqlOperations;
    private static MeterListener? s_listener;

    public static IInterceptor[] Interceptors { get; } = [new Commands(), new Transactions(), new Connections()];

    /// <summary>Starts counting Npgsql's own operations (PostgreSQL subjects only).</summary>
    public static void ListenToNpgsql()
    {
        s_listener = new MeterListener
        {
            InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Meter.Name == "Npgsql" && instrument.Name == "db.client.operation.duration")
                {
                    listener.EnableMeasurementEvents(instrument);
                }
            },
        };
        s_listener.SetMeasurementEventCallback<double>((_, _, _, _) => Interlocked.Increment(ref s_npgsqlOperations));
        s_listener.Start();
    }

    public static Dictionary<string, long> Snapshot()
    {
        var counts = new Dictionary<string, long>
        {
            ["commands"] = Interlocked.Read(ref s_commands),
            ["BEGIN"] = Interlocked.Read(ref s_begins),
            ["COMMIT"] = Interlocked.Read(ref s_commits),
            ["ROLLBACK"] = Interlocked.Read(ref s_rollbacks),
            ["opens"] = Interlocked.Read(ref s_opens),
            ["npgsqlOperations"] = Interlocked.Read(ref s_npgsqlOperations),
        };
        for (var i = 0; i < Verbs.Length; i++)
        {
            counts[Verbs[i]] = Interlocked.Read(ref StatementsByVerb[i]);
        }

        return counts;
    }

    private static void Count(DbCommand command)
    {
        Interlocked.Increment(ref s_commands);

        // EF batches several statements into one command, each ending with ';' (values travel as parameters).
        foreach (var statement in command.CommandText.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var end = statement.AsSpan().IndexOfAny(' ', '\n', '\r');
            var verb = (end < 0 ? statement : statement[..end]).ToUpperInvariant();
            var index = Array.IndexOf(Verbs, verb);
            Interlocked.Increment(ref StatementsByVerb[index < 0 ? Verbs.Length - 1 : index]);
        }
    }

    private sealed class Commands : DbCommandInterceptor
    {
        public override InterceptionResult<DbDataReader> ReaderExecuting(DbCommand command, CommandEventData eventData, InterceptionResult<DbDataReader> result)
        {
            Count(command);
            return result;
        }

        public override ValueTask<InterceptionResult<DbDataReader>> ReaderExecutingAsync(DbCommand command, CommandEventData eventData,
            InterceptionResult<DbDataReader> result, CancellationToken cancellationToken = default)
        {
            Count(command);
            return ValueTask.FromResult(result);
        }

        public override InterceptionResult<int> NonQueryExecuting(DbCommand command, CommandEventData eventData, InterceptionResult<int> result)
        {
            Count(command);
            return result;
        }

        public override ValueTask<InterceptionResult<int>> NonQueryExecutingAsync(DbCommand command, CommandEventData eventData,
            InterceptionResult<int> result, CancellationToken cancellationToken = default)
        {
            Count(command);
            return ValueTask.FromResult(result);
        }

        public override InterceptionResult<object> ScalarExecuting(DbCommand command, CommandEventData eventData, InterceptionResult<object> result)
        {
            Count(command);
            return result;
        }

        public override ValueTask<InterceptionResult<object>> ScalarExecutingAsync(DbCommand command, CommandEventData eventData,
            InterceptionResult<object> result, CancellationToken cancellationToken = default)
        {
            Count(command);
            return ValueTask.FromResult(result);
        }
    }

    private sealed class Transactions : DbTransactionInterceptor
    {
        public override DbTransaction TransactionStarted(DbConnection connection, TransactionEndEventData eventData, DbTransaction result)
        {
            Interlocked.Increment(ref s_begins);
            return result;
        }

        public override ValueTask<DbTransaction> TransactionStartedAsync(DbConnection connection, TransactionEndEventData eventData, DbTransaction result,
            CancellationToken cancellationToken = default)
        {
            Interlocked.Increment(ref s_begins);
            return ValueTask.FromResult(result);
        }

        public override void TransactionCommitted(DbTransaction transaction, TransactionEndEventData eventData) => Interlocked.Increment(ref s_commits);

        public override Task TransactionCommittedAsync(DbTransaction transaction, TransactionEndEventData eventData, CancellationToken cancellationToken = default)
        {
            Interlocked.Increment(ref s_commits);
            return Task.CompletedTask;
        }

        public override void TransactionRolledBack(DbTransaction transaction, TransactionEndEventData eventData) => Interlocked.Increment(ref s_rollbacks);

        public override Task TransactionRolledBackAsync(DbTransaction transaction, TransactionEndEventData eventData, CancellationToken cancellationToken = default)
        {
            Interlocked.Increment(ref s_rollbacks);
            return Task.CompletedTask;
        }
    }

    private sealed class Connections : DbConnectionInterceptor
    {
        public override void ConnectionOpened(DbConnection connection, ConnectionEndEventData eventData) => Interlocked.Increment(ref s_opens);

        public override Task ConnectionOpenedAsync(DbConnection connection, ConnectionEndEventData eventData, CancellationToken cancellationToken = default)
        {
            Interlocked.Increment(ref s_opens);
            return Task.CompletedTask;
        }
    }
}
