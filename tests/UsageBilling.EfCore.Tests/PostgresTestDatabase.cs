using Microsoft.EntityFrameworkCore;
using Npgsql;

namespace UsageBilling.EntityFrameworkCore.Tests;

/// <summary>
/// A fresh PostgreSQL database, created on the server named by <c>USAGEBILLING_POSTGRES</c> and dropped afterwards.
/// Without the variable every test that uses it is skipped, with the reason shown.
/// </summary>
public sealed class PostgresTestDatabase : BillingTestDatabase
{
    public const string Variable = "USAGEBILLING_POSTGRES";

    private static readonly string? Server = Environment.GetEnvironmentVariable(Variable);

    public PostgresTestDatabase()
    {
        if (Server is null)
        {
            return;
        }

        // A pool large enough for the 1,000-way concurrency tests to keep many transactions in flight, small enough
        // that test classes and two app hosts together stay under the server's max_connections (100 by default).
        ConnectionString = new NpgsqlConnectionStringBuilder(Server)
        {
            Database = DatabaseName,
            MaxPoolSize = 30,
            Timeout = 60,
        }.ConnectionString;
    }

    public string DatabaseName { get; } = $"usagebilling_{Guid.NewGuid():N}";

    public string ConnectionString { get; } = "";

    public override string? SkipReason => Server is null
        ? $"PostgreSQL tests need the environment variable {Variable} (for example Host=127.0.0.1;Port=5432;Username=usagebilling;Password=usagebilling;Database=usagebilling_tests); see .ci/postgres.sh."
        : null;

    public override void Configure(DbContextOptionsBuilder options) => options.UseNpgsql(ConnectionString);

    protected override async Task CreateDatabaseAsync()
    {
        await using var admin = new NpgsqlConnection(Server);
        await admin.OpenAsync();

        // A linguistic collation (ICU en-US, as most production databases have) so that the tests notice SQL that
        // relies on the database's collation for ordinal order; servers without ICU get their default.
        try
        {
            await using var icu = new NpgsqlCommand(
                $"CREATE DATABASE \"{DatabaseName}\" TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C.UTF-8'", admin);
            await icu.ExecuteNonQueryAsync();
        }
        catch (PostgresException)
        {
            await using var plain = new NpgsqlCommand($"CREATE DATABASE \"{DatabaseName}\"", admin);
            await plain.ExecuteNonQueryAsync();
        }
    }

    protected override async Task DropDatabaseAsync()
    {
        await using (var connection = new NpgsqlConnection(ConnectionString))
        {
            NpgsqlConnection.ClearPool(connection);
        }

        await using var admin = new NpgsqlConnection(Server);
        await admin.OpenAsync();

        // WITH (FORCE) ends the connections of the tests' role still open; it fails (42501) when an autovacuum worker,
        // which is not the role's process, is in the database at that moment. A plain DROP DATABASE stops an
        // autovacuum worker itself, and fails (55006) only while a connection lingers: so alternate until one works.
        for (var attempt = 1; ; attempt++)
        {
            var force = attempt % 2 == 1;
            await using var drop = new NpgsqlCommand($"DROP DATABASE IF EXISTS \"{DatabaseName}\"{(force ? " WITH (FORCE)" : "")}", admin);
            try
            {
                await drop.ExecuteNonQueryAsync();
                return;
            }
            catch (PostgresException e) when (attempt < 20
                && e.SqlState is PostgresErrorCodes.InsufficientPrivilege or PostgresErrorCodes.ObjectInUse)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(250));
            }
        }
    }
}
