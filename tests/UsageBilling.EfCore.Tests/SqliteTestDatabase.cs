using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;

namespace UsageBilling.EntityFrameworkCore.Tests;

/// <summary>A SQLite database in a temporary file, deleted afterwards.</summary>
public sealed class SqliteTestDatabase : BillingTestDatabase
{
    public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"usagebilling-{Guid.NewGuid():N}.db");

    public string ConnectionString => $"Data Source={Path}";

    public override void Configure(DbContextOptionsBuilder options) => options.UseSqlite(ConnectionString);

    protected override Task CreateDatabaseAsync() => Task.CompletedTask;

    protected override Task DropDatabaseAsync()
    {
        SqliteConnection.ClearAllPools();
        foreach (var file in new[] { Path, Path + "-wal", Path + "-shm" })
        {
            File.Delete(file);
        }

        return Task.CompletedTask;
    }
}
