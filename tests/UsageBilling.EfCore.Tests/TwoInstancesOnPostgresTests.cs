using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace UsageBilling.EntityFrameworkCore.Tests;

/// <summary>
/// Two app instances (two hosts, each with its own container and stores) on one PostgreSQL database, called in
/// turn: the per-minute limit and the balance are shared, as they would be behind a load balancer.
/// </summary>
[Collection(PostgresTestGroup.Name)]
public sealed class TwoInstancesOnPostgresTests(PostgresTestDatabase database) : IClassFixture<PostgresTestDatabase>
{
    // One second into a minute, so every call below falls in the same per-minute window.
    private readonly FakeTimeProvider _clock = new(new DateTimeOffset(2026, 11, 23, 10, 0, 1, TimeSpan.Zero));

    [SkippableFact]
    public async Task A_per_minute_limit_is_shared_by_both_instances()
    {
        Skip.If(database.SkipReason is not null, database.SkipReason);
        await using var first = await StartInstanceAsync();
        await using var second = await StartInstanceAsync();

        var account = await first.Services.GetRequiredService<AccountManager>().CreateAsync("Acme", MeteredTestHost.LimitedPlan);
        await first.Services.GetRequiredService<CreditManager>().PostAsync(account.Id, LedgerEntryKind.Grant, Money.FromUnits(10m), "payment-1");
        var key = await second.Services.GetRequiredService<ApiKeyManager>().CreateAsync(account.Id, "production");

        var calls = new List<(HttpStatusCode Status, string? Remaining)>();
        for (var i = 0; i < 6; i++)
        {
            var instance = i % 2 == 0 ? first : second;
            calls.Add(await CallAsync(instance, key.Plaintext));
            _clock.Advance(TimeSpan.FromSeconds(1));
        }

        Assert.Equal(
            [HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.TooManyRequests, HttpStatusCode.TooManyRequests],
            calls.Select(c => c.Status));
        Assert.Equal(["3", "2", "1", "0", "0", "0"], calls.Select(c => c.Remaining));
        Assert.Equal(new CreditBalance(Money.FromUnits(6m), Money.Zero),
            await second.Services.GetRequiredService<CreditManager>().GetBalanceAsync(account.Id));

        // Both usage-log writers flush when their host stops; the log holds every call once, whichever instance served it.
        await first.StopAsync();
        await second.StopAsync();
        var usage = await database.Get<IUsageStore>().QueryAsync(new UsageQuery { AccountId = account.Id });
        Assert.Equal(4, usage.Records.Count(r => r.Outcome == UsageOutcomes.Charged));
        Assert.Equal(2, usage.Records.Count(r => r.Outcome == UsageOutcomes.RateLimited));
    }

    [SkippableFact]
    public async Task A_balance_is_spent_once_across_both_instances()
    {
        Skip.If(database.SkipReason is not null, database.SkipReason);
        await using var first = await StartInstanceAsync();
        await using var second = await StartInstanceAsync();

        var account = await second.Services.GetRequiredService<AccountManager>().CreateAsync("Initech");
        await second.Services.GetRequiredService<CreditManager>().PostAsync(account.Id, LedgerEntryKind.Grant, Money.FromUnits(2m), "payment-1");
        var key = await first.Services.GetRequiredService<ApiKeyManager>().CreateAsync(account.Id, "production");

        var statuses = new List<HttpStatusCode>();
        foreach (var instance in new[] { first, second, first, second })
        {
            statuses.Add((await CallAsync(instance, key.Plaintext)).Status);
        }

        Assert.Equal([HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.PaymentRequired, HttpStatusCode.PaymentRequired], statuses);
        var credits = first.Services.GetRequiredService<CreditManager>();
        Assert.Equal(new CreditBalance(Money.Zero, Money.Zero), await credits.GetBalanceAsync(account.Id));
        var ledger = await credits.GetLedgerAsync(account.Id);
        Assert.Equal([Money.FromUnits(-1m), Money.FromUnits(-1m), Money.FromUnits(2m)], ledger.Entries.Select(e => e.Amount));
        Assert.Equal([Money.Zero, Money.FromUnits(1m), Money.FromUnits(2m)], ledger.Entries.Select(e => e.BalanceAfter));
    }

    private Task<WebApplication> StartInstanceAsync()
        => MeteredTestHost.StartAsync(_clock, billing => billing.UseEntityFrameworkCore(ef => ef.UseNpgsql(database.ConnectionString)));

    private static Task<(HttpStatusCode Status, string? Remaining)> CallAsync(WebApplication instance, string key) => MeteredTestHost.CallAsync(instance, key);
}
