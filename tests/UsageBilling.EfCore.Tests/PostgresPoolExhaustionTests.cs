using System.Net;
using System.Net.Http.Headers;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Npgsql;
using Xunit.Abstractions;

namespace UsageBilling.EntityFrameworkCore.Tests;

/// <summary>Runs alone: its pool is meant to exceed what the server allows, which would starve tests running beside it.</summary>
[CollectionDefinition(nameof(ExclusivePostgres), DisableParallelization = true)]
public sealed class ExclusivePostgres;

/// <summary>
/// 1,000 concurrent metered calls on PostgreSQL with a connection pool larger than the server's max_connections:
/// connections are refused ("too many clients"), and still no call is served free, nothing is charged twice, and no hold
/// or count is left behind once the retried completions have landed.
/// </summary>
[Collection(nameof(ExclusivePostgres))]
public sealed class PostgresPoolExhaustionTests(PostgresTestDatabase database, ITestOutputHelper output) : IClassFixture<PostgresTestDatabase>
{
    [SkippableFact]
    public async Task A_thousand_way_race_beyond_the_servers_connections_serves_no_call_free()
    {
        Skip.If(database.SkipReason is not null, database.SkipReason);
        var connection = new NpgsqlConnectionStringBuilder(database.ConnectionString) { MaxPoolSize = 400, Timeout = 15 }.ConnectionString;
        await using var app = await MeteredTestHost.StartAsync(TimeProvider.System, b => b.UseEntityFrameworkCore(ef => ef.UseNpgsql(connection)));
        var (account, keyClient) = await MeteredTestHost.CustomerAsync(app, 10_000m);
        using var client = keyClient;
        var credits = app.Services.GetRequiredService<CreditManager>();

        var statuses = await Task.WhenAll(Enumerable.Range(0, 1000).Select(async _ =>
        {
            using var response = await client.GetAsync("/x");
            return response.StatusCode;
        }));

        Assert.All(statuses, s => Assert.True(s is HttpStatusCode.OK or HttpStatusCode.ServiceUnavailable, s.ToString()));
        var served = statuses.Count(s => s == HttpStatusCode.OK);
        output.WriteLine($"{served} served, {statuses.Length - served} answered 503, {app.Services.GetRequiredService<PendingCompletions>().Count} completions pending");
        var pending = app.Services.GetRequiredService<PendingCompletions>();
        for (var i = 0; i < 600 && pending.Count > 0; i++)
        {
            await Task.Delay(100);
        }

        Assert.Equal(0, pending.Count);
        var balance = await credits.GetBalanceAsync(account);
        Assert.Equal(new CreditBalance(Money.FromUnits(10_000m - served), Money.Zero), balance);
        var ledger = Money.Zero;
        string? cursor = null;
        do
        {
            var page = await credits.GetLedgerAsync(account, 500, cursor);
            ledger = page.Entries.Aggregate(ledger, (sum, e) => sum + e.Amount);
            cursor = page.NextCursor;
        }
        while (cursor is not null);
        Assert.Equal(balance.Balance, ledger);
    }
}
