using System.Net.Http.Headers;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using UsageBilling.Tests.Shared;

namespace UsageBilling.Tests.Integration;

/// <summary>
/// A call whose endpoint throws was not served: its counts go back with the release of its hold, in one completion, or
/// on their own when the hold expired while the endpoint ran (the release then completes nothing).
/// </summary>
public sealed class AbandonedCallTests
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_call_whose_endpoint_throws_leaves_no_count_and_no_hold(bool holdExpiresFirst)
    {
        var endpointMayThrow = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var endpointStarted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var builder = WebApplication.CreateBuilder();
        builder.WebHost.UseTestServer();
        builder.Logging.ClearProviders();
        builder.Services.AddUsageBilling(o => o.Plans.Limits["default"] = new RequestLimits { RequestsPerDay = 1_000 });
        await using var app = builder.Build();
        app.UseAuthentication();
        app.UseAuthorization();
        app.UseUsageBilling();
        app.MapGet("/x", async Task<string> () =>
        {
            endpointStarted.TrySetResult();
            await endpointMayThrow.Task;
            throw new InvalidOperationException("The endpoint failed.");
        }).RequireApiKey().WithCost(1m);
        await app.StartAsync();

        var accounts = app.Services.GetRequiredService<AccountManager>();
        var account = await accounts.CreateAsync("Acme");
        await accounts.SetBudgetAsync(account.Id, new SpendBudget { Monthly = Money.FromUnits(100m) });
        var credits = app.Services.GetRequiredService<ICreditStore>();
        await app.Services.GetRequiredService<CreditManager>().PostAsync(account.Id, LedgerEntryKind.Grant, Money.FromUnits(10m), "seed");
        var key = await app.Services.GetRequiredService<ApiKeyManager>().CreateAsync(account.Id, "k");
        using var client = app.GetTestClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key.Plaintext);
        var now = DateTimeOffset.UtcNow;
        string[] counters = [$"{key.Key.Id}:d:{now.ToUnixTimeSeconds() / 86_400}", $"spend:account:{account.Id}:m:{now.UtcDateTime:yyyyMM}"];

        var call = client.GetAsync("/x");
        await endpointStarted.Task.WaitAsync(TimeSpan.FromSeconds(10));
        var counted = await app.Services.GetRequiredService<ICounterStore>().GetAsync(counters);
        Assert.Equal([1L, Money.FromUnits(1m).Nanos], counted);
        if (holdExpiresFirst)
        {
            // The sweeper's work, done now: the hold expires while the endpoint still runs.
            Assert.Equal(1, await credits.ExpireReservationsAsync(DateTimeOffset.UtcNow.AddHours(2), DateTimeOffset.UtcNow.AddMinutes(1), 10));
        }

        endpointMayThrow.SetResult();
        await Assert.ThrowsAsync<InvalidOperationException>(() => call);

        await Polling.WaitUntilAsync(async () => (await app.Services.GetRequiredService<ICounterStore>().GetAsync(counters)).All(v => v == 0), TimeSpan.FromSeconds(10),
            "the counts to be given back");
        var balance = await credits.GetBalanceAsync(account.Id);
        Assert.Equal(Money.FromUnits(10m), balance.Balance);
        Assert.Equal(Money.Zero, balance.Reserved);
    }
}
