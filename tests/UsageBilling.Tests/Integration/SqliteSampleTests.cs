using System.Net;
using Microsoft.Extensions.DependencyInjection;

namespace UsageBilling.Tests.Integration;

/// <summary>The sample on its default store, SQLite: balances, keys and usage survive a restart.</summary>
public sealed class SqliteSampleTests : IDisposable
{
    private readonly string _database = Path.Combine(Path.GetTempPath(), $"usagebilling-sample-{Guid.NewGuid():N}.db");

    public void Dispose()
    {
        foreach (var file in new[] { _database, _database + "-wal", _database + "-shm" })
        {
            File.Delete(file);
        }
    }

    [Fact]
    public async Task The_sample_bills_on_sqlite_and_keeps_everything_across_a_restart()
    {
        string accountId, key;
        await using (var first = new MeteredApiFactory { Store = "Sqlite", ConnectionString = $"Data Source={_database}" })
        {
            Assert.IsNotType<InMemoryCreditStore>(first.Services.GetRequiredService<ICreditStore>());
            (accountId, key, _) = await first.CreateCustomerAsync(credits: 0.02m);
            using var client = first.CreateKeyClient(key);
            Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/v1/quote")).StatusCode);
            await first.WaitForUsageAsync(accountId, 1);
        }

        await using var second = new MeteredApiFactory { Store = "Sqlite", ConnectionString = $"Data Source={_database}" };
        using var again = second.CreateKeyClient(key);
        Assert.Equal(HttpStatusCode.OK, (await again.GetAsync("/v1/quote")).StatusCode);
        Assert.Equal(HttpStatusCode.PaymentRequired, (await again.GetAsync("/v1/quote")).StatusCode);
        Assert.Equal((0m, 0m), await second.GetBalanceAsync(accountId));
        Assert.Equal(0m, await second.GetLedgerSumAsync(accountId));
        Assert.Equal(3, (await second.WaitForUsageAsync(accountId, 3)).Length);
    }

    [Fact]
    public void The_tests_of_the_sample_run_on_the_in_memory_stores_unless_asked()
    {
        using var factory = new MeteredApiFactory();
        Assert.IsType<InMemoryCreditStore>(factory.Services.GetRequiredService<ICreditStore>());
    }
}
