using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace UsageBilling.EntityFrameworkCore.Tests;

/// <summary>
/// Every SQLite write runs with the synchronous setting the options ask for: FULL by default (every commit flushed),
/// NORMAL when <c>SqliteFlushEveryCommit</c> is false (a commit survives a crash of the process and costs no flush).
/// </summary>
public sealed class SqliteDurabilityTests : IDisposable
{
    private readonly string _path = Path.Combine(Path.GetTempPath(), $"usagebilling-{Guid.NewGuid():N}.db");

    [Theory]
    [InlineData(false, 1)] // NORMAL
    [InlineData(true, 2)] // FULL
    [InlineData(null, 2)] // the default
    public async Task A_write_runs_in_write_ahead_log_mode_with_the_synchronous_setting_of_the_options(bool? flushEveryCommit, long expected)
    {
        var services = new ServiceCollection().AddLogging();
        services.AddUsageBilling().UseEntityFrameworkCore(ef => ef.UseSqlite($"Data Source={_path}"), o =>
        {
            if (flushEveryCommit is { } flush)
            {
                o.SqliteFlushEveryCommit = flush;
            }
        });
        await using var provider = services.BuildServiceProvider();
        await using (var context = await provider.GetRequiredService<IDbContextFactory<UsageBillingDbContext>>().CreateDbContextAsync())
        {
            await context.Database.EnsureCreatedAsync();
        }

        var database = provider.GetRequiredService<BillingDatabase<UsageBillingDbContext>>();
        var (mode, synchronous) = await database.WriteAsync(async (transaction, ct) =>
        {
            await using var journal = transaction.Command("PRAGMA journal_mode");
            var mode = (string?)await journal.ExecuteScalarAsync(ct);
            await using var sync = transaction.Command("PRAGMA synchronous");
            return (mode, (long)(await sync.ExecuteScalarAsync(ct))!);
        }, CancellationToken.None);

        Assert.Equal("wal", mode);
        Assert.Equal(expected, synchronous);
    }

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        foreach (var file in new[] { _path, _path + "-wal", _path + "-shm" })
        {
            File.Delete(file);
        }
    }
}
