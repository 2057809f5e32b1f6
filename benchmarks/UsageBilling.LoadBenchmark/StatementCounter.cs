using System.Collections.Concurrent;
using System.Data.Common;
using System.Diagnostics;
using System.Text.RegularExpressions;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore.Diagnostics;

namespace UsageBilling.LoadBenchmark;

/// <summary>
/// Counts, in a subject's host process, the SQL the stores send, below EF Core (the stores run raw commands on the
/// context's connection, which EF's command interceptors do not see):
/// <list type="bullet">
/// <item>SQLite: every statement the engine runs (<c>sqlite3_profile</c> on each connection EF opens: the statement's text
/// without its values), BEGIN and COMMIT included.</item>
/// <item>PostgreSQL: every command Npgsql sends (its <c>Npgsql</c> activity source, one activity per round trip), plus
/// the transactions EF begins and commits (Npgsql pipelines <c>BEGIN</c> with the first command and sends <c>COMMIT</c>
/// as a round trip of its own) and the pool resets (<c>DISCARD ALL</c>, prepended to the first command after a pooled
/// connection is reopened: one per connection open).</item>
/// </list>
/// Registered on the context options with <c>AddInterceptors(StatementCounter.Interceptors)</c>. Each distinct text is
/// split into statements and shapes once, so that counting costs a dictionary lookup per command, not a parse: the
/// host's CPU and allocation per call stay the stores' own.
/// </summary>
internal static partial class StatementCounter
{
    private static readonly ConcurrentDictionary<string, long> Counts = new();
    private static readonly ConcurrentDictionary<string, long> Shapes = new();
    private static readonly ConcurrentDictionary<(string Source, string Sql), (string Verb, string Shape)[]> Parsed = new();
    private static readonly SQLitePCL.strdelegate_profile SqliteProfile = (_, sql, _) => CountStatements(sql, "sqlite");
    private static ActivityListener? s_listener;

    public static IInterceptor[] Interceptors { get; } = [new Transactions(), new Connections()];

    /// <summary>Starts counting the commands Npgsql sends (PostgreSQL subjects only).</summary>
    public static void ListenToNpgsql()
    {
        s_listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == "Npgsql",
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllData,
            ActivityStopped = activity =>
            {
                Add("npgsql.roundTrips");
                var text = activity.GetTagItem("db.query.text") as string ?? activity.DisplayName;
                CountStatements(text, "npgsql");
            },
        };
        ActivitySource.AddActivityListener(s_listener);
    }

    public static Dictionary<string, long> Snapshot() => new(Counts);

    public static Dictionary<string, long> SnapshotShapes() => new(Shapes);

    private static void Add(string counter, long by = 1) => Counts.AddOrUpdate(counter, by, (_, n) => n + by);

    private static void CountStatements(string sql, string source)
    {
        foreach (var (verb, shape) in Parsed.GetOrAdd((source, sql), static key => Parse(key.Sql, key.Source)))
        {
            Add(verb);
            Shapes.AddOrUpdate(shape, 1, (_, n) => n + 1);
        }
    }

    private static (string Verb, string Shape)[] Parse(string sql, string source)
    {
        var statements = sql.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        return Array.ConvertAll(statements, statement =>
        {
            var end = statement.AsSpan().IndexOfAny(' ', '\n', '\r');
            var verb = (end < 0 ? statement : statement[..end]).ToUpperInvariant();

            // Literals become '?' so that one statement is one shape.
            var shape = Literal().Replace(string.Join(' ', statement.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries)), "?");
            return ($"{source}.{verb}", $"{source}: {(shape.Length > 90 ? shape[..90] + "…" : shape)}");
        });
    }

    [GeneratedRegex(@"'(?:[^']|'')*'|\b-?\d+(?:\.\d+)?\b")]
    private static partial Regex Literal();

    private sealed class Transactions : DbTransactionInterceptor
    {
        public override DbTransaction TransactionStarted(DbConnection connection, TransactionEndEventData eventData, DbTransaction result)
        {
            Add("ef.BEGIN");
            return result;
        }

        public override ValueTask<DbTransaction> TransactionStartedAsync(DbConnection connection, TransactionEndEventData eventData, DbTransaction result,
            CancellationToken cancellationToken = default)
        {
            Add("ef.BEGIN");
            return ValueTask.FromResult(result);
        }

        public override void TransactionCommitted(DbTransaction transaction, TransactionEndEventData eventData) => Add("ef.COMMIT");

        public override Task TransactionCommittedAsync(DbTransaction transaction, TransactionEndEventData eventData, CancellationToken cancellationToken = default)
        {
            Add("ef.COMMIT");
            return Task.CompletedTask;
        }

        public override void TransactionRolledBack(DbTransaction transaction, TransactionEndEventData eventData) => Add("ef.ROLLBACK");

        public override Task TransactionRolledBackAsync(DbTransaction transaction, TransactionEndEventData eventData, CancellationToken cancellationToken = default)
        {
            Add("ef.ROLLBACK");
            return Task.CompletedTask;
        }
    }

    private sealed class Connections : DbConnectionInterceptor
    {
        public override void ConnectionOpened(DbConnection connection, ConnectionEndEventData eventData) => Opened(connection);

        public override Task ConnectionOpenedAsync(DbConnection connection, ConnectionEndEventData eventData, CancellationToken cancellationToken = default)
        {
            Opened(connection);
            return Task.CompletedTask;
        }

        private static void Opened(DbConnection connection)
        {
            Add("ef.opens");
            if (connection is SqliteConnection { Handle: { } handle })
            {
                SQLitePCL.raw.sqlite3_profile(handle, SqliteProfile, null);
            }
        }
    }
}
