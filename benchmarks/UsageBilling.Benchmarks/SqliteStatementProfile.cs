using System.Collections.Concurrent;
using System.Data.Common;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore.Diagnostics;

namespace UsageBilling.Benchmarks;

/// <summary>
/// With <c>USAGEBILLING_BENCH_SQLITE_PROFILE=1</c>, where SQLite's time goes: every statement the engine runs on a
/// connection EF opens is timed by SQLite itself (<c>sqlite3_profile</c>, <c>COMMIT</c> included), summed by the first 70
/// characters of its text, and printed to standard error when the benchmark's process cleans up.
/// </summary>
internal sealed class SqliteStatementProfile : DbConnectionInterceptor
{
    public const string Variable = "USAGEBILLING_BENCH_SQLITE_PROFILE";

    private static readonly ConcurrentDictionary<string, long[]> Totals = new();

    private static readonly SQLitePCL.strdelegate_profile Profile = (_, sql, nanoseconds) =>
    {
        var totals = Totals.GetOrAdd(sql.Length > 70 ? sql[..70] : sql, static _ => new long[2]);
        Interlocked.Add(ref totals[0], nanoseconds);
        Interlocked.Increment(ref totals[1]);
    };

    public static bool Enabled => Environment.GetEnvironmentVariable(Variable) == "1";

    public override void ConnectionOpened(DbConnection connection, ConnectionEndEventData eventData) => Opened(connection);

    public override Task ConnectionOpenedAsync(DbConnection connection, ConnectionEndEventData eventData, CancellationToken cancellationToken = default)
    {
        Opened(connection);
        return Task.CompletedTask;
    }

    /// <summary>The twenty statements that took longest in total: share of all statements' time, count, mean.</summary>
    public static void Print()
    {
        var all = Math.Max(1, Totals.Values.Sum(static v => v[0]));
        foreach (var (sql, totals) in Totals.OrderByDescending(static t => t.Value[0]).Take(20))
        {
            Console.Error.WriteLine($"sqlite {100.0 * totals[0] / all,5:F1} %  {totals[1],8} x {totals[0] / 1000.0 / Math.Max(1, totals[1]),8:F1} µs  {sql.ReplaceLineEndings(" ")}");
        }
    }

    private static void Opened(DbConnection connection)
    {
        if (connection is SqliteConnection { Handle: { } handle })
        {
            SQLitePCL.raw.sqlite3_profile(handle, Profile, null);
        }
    }
}
