using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace UsageBilling.EntityFrameworkCore.Tests;

/// <summary>Another process holding SQLite's write lock makes a store write wait, never fail with "database is locked".</summary>
public sealed class SqliteLockTests : IDisposable
{
    private readonly string _path = Path.Combine(Path.GetTempPath(), $"usagebilling-{Guid.NewGuid():N}.db");

    [Fact]
    public async Task A_write_that_meets_a_foreign_write_lock_longer_than_the_busy_timeout_is_retried_and_succeeds()
    {
        // A one-second busy timeout, and a foreign writer (a connection outside the store, as another process would be)
        // that holds the lock for 2.5 s: the first attempts give up with SQLITE_BUSY, a retry gets through.
        var services = new ServiceCollection().AddLogging();
        services.AddUsageBilling().UseEntityFrameworkCore(ef => ef.UseSqlite($"Data Source={_path};Default Timeout=1"));
        await using var provider = services.BuildServiceProvider();
        await using (var context = await provider.GetRequiredService<IDbContextFactory<UsageBillingDbContext>>().CreateDbContextAsync())
        {
            await context.Database.EnsureCreatedAsync();
        }

        var credits = provider.GetRequiredService<ICreditStore>();
        var account = $"acct_{Guid.NewGuid():N}";
        await credits.PostAsync(Grant(account, "first"));
        await using var foreign = new SqliteConnection($"Data Source={_path};Pooling=False");
        await foreign.OpenAsync();
        await using (var begin = foreign.CreateCommand())
        {
            begin.CommandText = "BEGIN IMMEDIATE";
            await begin.ExecuteNonQueryAsync();
        }

        var grant = Task.Run(async () => await credits.PostAsync(Grant(account, "second")));
        await Task.Delay(TimeSpan.FromMilliseconds(2500));
        Assert.False(grant.IsCompleted, "the write waits while the foreign lock is held");
        await using (var rollback = foreign.CreateCommand())
        {
            rollback.CommandText = "ROLLBACK";
            await rollback.ExecuteNonQueryAsync();
        }

        Assert.Equal(PostStatus.Posted, (await grant).Status);
        Assert.Equal(Money.FromUnits(2m), (await credits.GetBalanceAsync(account)).Balance);
    }

    private static LedgerPostRequest Grant(string account, string key) => new()
    {
        EntryId = $"led_{Guid.NewGuid():N}", AccountId = account, Kind = LedgerEntryKind.Grant, Amount = Money.FromUnits(1m),
        IdempotencyKey = key, CreatedAt = DateTimeOffset.UtcNow,
    };

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        foreach (var file in new[] { _path, _path + "-wal", _path + "-shm" })
        {
            File.Delete(file);
        }
    }
}
