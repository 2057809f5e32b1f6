using System.Net;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace UsageBilling.EntityFrameworkCore.Tests;

/// <summary>The whole request pipeline on the zero-configuration SQLite setup: a file, created at start-up.</summary>
public sealed class SqliteAppTests : IDisposable
{
    private readonly string _path = Path.Combine(Path.GetTempPath(), $"usagebilling-{Guid.NewGuid():N}.db");
    private readonly FakeTimeProvider _clock = new(new DateTimeOffset(2026, 11, 23, 10, 0, 1, TimeSpan.Zero));

    [Fact]
    public async Task Metered_calls_are_limited_charged_logged_and_the_key_touched()
    {
        await using var app = await MeteredTestHost.StartAsync(_clock, billing => billing.UseEntityFrameworkCore(
            ef => ef.UseSqlite($"Data Source={_path}"), o => o.CreateDatabaseOnStartup = true));

        var account = await app.Services.GetRequiredService<AccountManager>().CreateAsync("Acme", MeteredTestHost.LimitedPlan);
        var credits = app.Services.GetRequiredService<CreditManager>();
        await credits.PostAsync(account.Id, LedgerEntryKind.Grant, Money.FromUnits(3m), "payment-1");
        var key = await app.Services.GetRequiredService<ApiKeyManager>().CreateAsync(account.Id, "production");

        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i < MeteredTestHost.RequestsPerMinute + 1; i++)
        {
            statuses.Add((await MeteredTestHost.CallAsync(app, key.Plaintext)).Status);
            _clock.Advance(TimeSpan.FromSeconds(1));
        }

        // Three calls use up the balance; the fourth is refused for credit (and gives its count back); the fifth is
        // still within the limit of four, and refused for credit again.
        Assert.Equal([HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.PaymentRequired, HttpStatusCode.PaymentRequired], statuses);
        Assert.Equal(new CreditBalance(Money.Zero, Money.Zero), await credits.GetBalanceAsync(account.Id));

        await app.StopAsync();
        var usage = await app.Services.GetRequiredService<IUsageStore>().QueryAsync(new UsageQuery { AccountId = account.Id });
        Assert.Equal(5, usage.Records.Count);
        Assert.Equal(3, usage.Records.Count(r => r.Outcome == UsageOutcomes.Charged && r.Cost == Money.FromUnits(1m)));
        Assert.NotNull((await app.Services.GetRequiredService<IApiKeyStore>().FindByIdAsync(key.Key.Id))!.LastUsedAt);
    }

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        foreach (var file in new[] { _path, _path + "-wal", _path + "-shm" })
        {
            File.Delete(file);
        }
    }
}
