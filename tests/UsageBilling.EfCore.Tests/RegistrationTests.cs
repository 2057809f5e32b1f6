using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Npgsql;

namespace UsageBilling.EntityFrameworkCore.Tests;

public sealed class RegistrationTests : IDisposable
{
    private static readonly DateTimeOffset Now = new(2026, 11, 1, 12, 0, 0, TimeSpan.Zero);
    private readonly string _path = Path.Combine(Path.GetTempPath(), $"usagebilling-{Guid.NewGuid():N}.db");

    private string Sqlite => $"Data Source={_path}";

    [Fact]
    public async Task Registering_twice_keeps_one_set_of_stores_and_one_initializer_that_starts_first()
    {
        var services = new ServiceCollection().AddLogging();
        services.AddUsageBilling().UseEntityFrameworkCore(ef => ef.UseSqlite(Sqlite));
        services.AddUsageBilling().UseEntityFrameworkCore(ef => ef.UseSqlite(Sqlite), o => o.CreateDatabaseOnStartup = true);
        await using var provider = services.BuildServiceProvider();

        Assert.IsType<EfCoreCreditStore<UsageBillingDbContext>>(provider.GetRequiredService<ICreditStore>());
        Assert.IsType<EfCoreAccountStore<UsageBillingDbContext>>(ObservedStores.Unwrap(provider.GetRequiredService<IAccountStore>()));
        Assert.IsType<EfCoreApiKeyStore<UsageBillingDbContext>>(ObservedStores.Unwrap(provider.GetRequiredService<IApiKeyStore>()));
        Assert.IsType<EfCoreUsageStore<UsageBillingDbContext>>(ObservedStores.Unwrap(provider.GetRequiredService<IUsageStore>()));
        Assert.IsType<EfCoreRateLimitCounterStore<UsageBillingDbContext>>(ObservedStores.Unwrap(provider.GetRequiredService<ICounterStore>()));
        Assert.IsType<EfCoreModelPriceStore<UsageBillingDbContext>>(ObservedStores.Unwrap(provider.GetRequiredService<IModelPriceStore>()));
        Assert.IsType<EfCoreProviderKeyStore<UsageBillingDbContext>>(ObservedStores.Unwrap(provider.GetRequiredService<IProviderKeyStore>()));
        Assert.Single(services, d => d.ServiceType == typeof(ICreditStore));
        Assert.Same(provider.GetRequiredService<ICreditStore>(), provider.GetRequiredService<ICreditStore>());

        var hosted = provider.GetServices<IHostedService>().ToList();
        Assert.IsType<UsageBillingDatabaseInitializer<UsageBillingDbContext>>(hosted[0]);
        Assert.Single(hosted, h => h is UsageBillingDatabaseInitializer<UsageBillingDbContext>);
    }

    [Fact]
    public async Task CreateDatabaseOnStartup_creates_the_tables_before_the_app_runs()
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Services.AddUsageBilling().UseEntityFrameworkCore(ef => ef.UseSqlite(Sqlite), o => o.CreateDatabaseOnStartup = true);
        using var host = builder.Build();
        await host.StartAsync();

        var account = await host.Services.GetRequiredService<AccountManager>().CreateAsync("Acme");
        var credits = host.Services.GetRequiredService<CreditManager>();
        await credits.PostAsync(account.Id, LedgerEntryKind.Grant, Money.FromUnits(3m), "payment-1");
        Assert.Equal(Money.FromUnits(3m), (await credits.GetBalanceAsync(account.Id)).Balance);
        Assert.Equal(account, await host.Services.GetRequiredService<AccountManager>().FindAsync(account.Id));
        await host.StopAsync();
    }

    [Fact]
    public async Task Without_CreateDatabaseOnStartup_a_missing_schema_stops_start_up_and_nothing_is_created()
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Services.AddUsageBilling().UseEntityFrameworkCore(ef => ef.UseSqlite(Sqlite));
        using var host = builder.Build();

        // Start-up reads the run-time model prices, so a database without the tables fails there, not on a request.
        var error = await Assert.ThrowsAsync<SqliteException>(() => host.StartAsync());
        Assert.Contains("no such table", error.Message, StringComparison.Ordinal);
        Assert.Empty(await TablesAsync());
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task The_app_context_holds_the_tables_under_its_prefix(bool contextFactory)
    {
        var services = new ServiceCollection().AddLogging();
        if (contextFactory)
        {
            services.AddDbContextFactory<AppDbContext>(ef => ef.UseSqlite(Sqlite));
        }
        else
        {
            services.AddDbContext<AppDbContext>(ef => ef.UseSqlite(Sqlite));
        }

        services.AddUsageBilling().UseEntityFrameworkCore<AppDbContext>();
        await using var provider = services.BuildServiceProvider(new ServiceProviderOptions { ValidateScopes = true });
        await using (var scope = provider.CreateAsyncScope())
        {
            await scope.ServiceProvider.GetRequiredService<AppDbContext>().Database.EnsureCreatedAsync();
        }

        var credits = provider.GetRequiredService<ICreditStore>();
        var account = $"acct_{Guid.NewGuid():N}";
        await credits.PostAsync(Grant(account, 2m));
        var held = await credits.ReserveAsync(Reserve(account, 1.5m));
        Assert.Equal(ReserveStatus.Reserved, held.Status);
        Assert.Equal(new CreditBalance(Money.FromUnits(2m), Money.FromUnits(1.5m)), await credits.GetBalanceAsync(account));

        var tables = await TablesAsync();
        Assert.Contains("orders", tables);
        Assert.Contains("acme_credit_ledger", tables);
        Assert.DoesNotContain(tables, t => t.StartsWith("billing_", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_context_without_the_tables_fails_with_a_message_that_says_what_to_do()
    {
        var services = new ServiceCollection().AddLogging();
        services.AddDbContextFactory<ContextWithoutBilling>(ef => ef.UseSqlite(Sqlite));
        services.AddUsageBilling().UseEntityFrameworkCore<ContextWithoutBilling>();
        await using var provider = services.BuildServiceProvider();

        var error = await Assert.ThrowsAsync<InvalidOperationException>(async () => await provider.GetRequiredService<ICreditStore>().GetBalanceAsync("acct_1"));
        Assert.Contains("modelBuilder.UseUsageBilling()", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_store_without_any_registered_context_says_how_to_register_one()
    {
        var services = new ServiceCollection().AddLogging();
        services.AddUsageBilling().UseEntityFrameworkCore<AppDbContext>();
        await using var provider = services.BuildServiceProvider();

        var error = await Assert.ThrowsAsync<InvalidOperationException>(async () => await provider.GetRequiredService<IAccountStore>().FindAsync("acct_1"));
        Assert.Contains("AddDbContextFactory<AppDbContext>", error.Message, StringComparison.Ordinal);
    }

    [SkippableFact]
    public async Task On_PostgreSQL_the_tables_can_live_in_their_own_schema()
    {
        var server = Environment.GetEnvironmentVariable(PostgresTestDatabase.Variable);
        Skip.If(server is null, $"PostgreSQL tests need the environment variable {PostgresTestDatabase.Variable}.");
        var database = new PostgresTestDatabase { CreateTables = false };
        await database.InitializeAsync();
        try
        {
            var services = new ServiceCollection().AddLogging();
            services.AddDbContextFactory<SchemaAppDbContext>(ef => ef.UseNpgsql(database.ConnectionString));
            services.AddUsageBilling().UseEntityFrameworkCore<SchemaAppDbContext>(o => o.CreateDatabaseOnStartup = true);
            await using var provider = services.BuildServiceProvider();
            foreach (var hosted in provider.GetServices<IHostedService>().OfType<UsageBillingDatabaseInitializer<SchemaAppDbContext>>())
            {
                await hosted.StartAsync(CancellationToken.None);
            }

            var account = $"acct_{Guid.NewGuid():N}";
            var credits = provider.GetRequiredService<ICreditStore>();
            await credits.PostAsync(Grant(account, 2m));
            var held = await credits.ReserveAsync(Reserve(account, 2m));
            await credits.SettleAsync(held.Reservation!.Id, Money.FromUnits(0.25m), Now);
            await provider.GetRequiredService<ICounterStore>().IncrementAsync([new("k:m:1", 1, Now.AddYears(100))]);
            Assert.Equal(new CreditBalance(Money.FromUnits(1.75m), Money.Zero), await credits.GetBalanceAsync(account));
            var providerKeys = provider.GetRequiredService<IProviderKeyStore>();
            var providerKey = new ProviderKey
            {
                Id = $"pk_{Guid.NewGuid():N}", AccountId = account, Provider = "openai", ProtectedKey = "payload", Masked = "sk-…abcd",
                Enabled = true, CreatedAt = Now, UpdatedAt = Now,
            };
            await providerKeys.UpsertAsync(providerKey);
            Assert.Equal(providerKey, await providerKeys.FindAsync(account, "openai"));

            await using var connection = new NpgsqlConnection(database.ConnectionString);
            await connection.OpenAsync();
            await using var count = new NpgsqlCommand("SELECT count(*) FROM information_schema.tables WHERE table_schema = 'billing' AND table_name LIKE 'billing\\_%'", connection);
            Assert.Equal(9L, await count.ExecuteScalarAsync());
        }
        finally
        {
            await database.DisposeAsync();
        }
    }

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        foreach (var file in new[] { _path, _path + "-wal", _path + "-shm" })
        {
            File.Delete(file);
        }
    }

    private async Task<List<string>> TablesAsync()
    {
        await using var connection = new SqliteConnection(Sqlite);
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'";
        var tables = new List<string>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            tables.Add(reader.GetString(0));
        }

        return tables;
    }

    private static LedgerPostRequest Grant(string account, decimal units) => new()
    {
        EntryId = $"led_{Guid.NewGuid():N}", AccountId = account, Kind = LedgerEntryKind.Grant, Amount = Money.FromUnits(units),
        IdempotencyKey = "grant", CreatedAt = Now,
    };

    private static CreditReservationRequest Reserve(string account, decimal units) => new()
    {
        ReservationId = $"res_{Guid.NewGuid():N}", AccountId = account, Amount = Money.FromUnits(units), IdempotencyKey = "call",
        CreatedAt = Now, ExpiresAt = Now.AddMinutes(10),
    };
}
