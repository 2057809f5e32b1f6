using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using UsageBilling.Tests.Shared;

namespace UsageBilling.Tests.Integration;

/// <summary>
/// Where a metered call's request waits (<see cref="CreditOptions.WaitForCharge"/>): by default until its charge is
/// committed; with the option off only until the charge is queued, unless <see cref="CallCompletions.MaxUnwritten"/>
/// completions are already unwritten; and shutdown writes what was queued. The completion store is held shut by a
/// gate so that each step can be seen.
/// </summary>
public sealed class ChargeAfterResponseTests
{
    [Fact]
    public async Task By_default_a_request_ends_only_after_its_charge_is_written()
    {
        var gate = new CompletionGate();
        await using var app = await StartAsync(gate, waitForCharge: true);
        var (account, client) = await CustomerAsync(app);

        var call = client.GetAsync("/x");
        await gate.Entered.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.False(call.IsCompleted, "The response ended while its charge was being written.");

        gate.Open();
        using var response = await call;
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var balance = await app.Services.GetRequiredService<ICreditStore>().GetBalanceAsync(account);
        Assert.Equal(Money.FromUnits(99m), balance.Balance);
        Assert.Equal(Money.Zero, balance.Reserved);
    }

    [Fact]
    public async Task Without_waiting_the_response_comes_first_and_the_charge_lands_when_its_batch_is_written()
    {
        var gate = new CompletionGate();
        await using var app = await StartAsync(gate, waitForCharge: false);
        var (account, client) = await CustomerAsync(app);
        var credits = app.Services.GetRequiredService<ICreditStore>();

        using (var response = await client.GetAsync("/x").WaitAsync(TimeSpan.FromSeconds(10)))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        // Answered, not yet charged: the hold keeps the price until the batch is written.
        var held = await credits.GetBalanceAsync(account);
        Assert.Equal(Money.FromUnits(100m), held.Balance);
        Assert.Equal(Money.FromUnits(1m), held.Reserved);

        gate.Open();
        var completions = app.Services.GetRequiredService<CallCompletions>();
        await WaitUntilAsync(() => completions.Unwritten == 0);
        var charged = await credits.GetBalanceAsync(account);
        Assert.Equal(Money.FromUnits(99m), charged.Balance);
        Assert.Equal(Money.Zero, charged.Reserved);
        var usage = app.Services.GetRequiredService<IUsageStore>();
        await WaitUntilAsync(async () => (await usage.QueryAsync(new UsageQuery { AccountId = account })).Records.Count > 0);
        Assert.Equal(UsageOutcomes.Charged, Assert.Single((await usage.QueryAsync(new UsageQuery { AccountId = account })).Records).Outcome);
    }

    [Fact]
    public async Task Without_waiting_requests_wait_again_once_the_unwritten_charges_reach_the_bound()
    {
        var gate = new CompletionGate();
        await using var app = await StartAsync(gate, waitForCharge: false);
        var (account, client) = await CustomerAsync(app, grant: 1_000m);

        // The first call's batch is held in the store; every call after it queues behind it.
        for (var i = 0; i < CallCompletions.MaxUnwritten; i++)
        {
            using var response = await client.GetAsync("/x").WaitAsync(TimeSpan.FromSeconds(10));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        var completions = app.Services.GetRequiredService<CallCompletions>();
        Assert.Equal(CallCompletions.MaxUnwritten, completions.Unwritten);
        var waiting = client.GetAsync("/x");
        await WaitUntilAsync(() => completions.Unwritten == CallCompletions.MaxUnwritten + 1);
        Assert.False(waiting.IsCompleted, "A request ran ahead of more unwritten charges than the bound.");

        gate.Open();
        using (var response = await waiting)
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        await WaitUntilAsync(() => completions.Unwritten == 0);
        var balance = await app.Services.GetRequiredService<ICreditStore>().GetBalanceAsync(account);
        Assert.Equal(Money.FromUnits(1_000m - CallCompletions.MaxUnwritten - 1), balance.Balance);
        Assert.Equal(Money.Zero, balance.Reserved);
    }

    [Fact]
    public async Task Shutdown_writes_the_charges_of_requests_that_did_not_wait()
    {
        var gate = new CompletionGate();
        var app = await StartAsync(gate, waitForCharge: false);
        var (account, client) = await CustomerAsync(app);
        var credits = app.Services.GetRequiredService<ICreditStore>();
        for (var i = 0; i < 3; i++)
        {
            using var response = await client.GetAsync("/x").WaitAsync(TimeSpan.FromSeconds(10));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        // The server stops, then the services are disposed: that waits for the batches still queued or being written.
        await app.StopAsync().WaitAsync(TimeSpan.FromSeconds(30));
        var stopping = app.DisposeAsync().AsTask();
        Assert.NotSame(stopping, await Task.WhenAny(stopping, Task.Delay(TimeSpan.FromMilliseconds(300))));

        // Disposal ends when the last batch is written, not when its wait gives up (DrainTimeout, 30 s).
        gate.Open();
        await stopping.WaitAsync(CallCompletions.DrainTimeout / 3);
        var balance = await credits.GetBalanceAsync(account);
        Assert.Equal(Money.FromUnits(97m), balance.Balance);
        Assert.Equal(Money.Zero, balance.Reserved);
    }

    private static async Task<WebApplication> StartAsync(CompletionGate gate, bool waitForCharge)
    {
        var builder = WebApplication.CreateBuilder();
        builder.WebHost.UseTestServer();
        builder.Logging.ClearProviders();
        builder.Services.AddUsageBilling(o => o.Credits.WaitForCharge = waitForCharge);
        builder.Services.AddSingleton<ICallCompletionStore>(sp => new GatedCompletionStore(ActivatorUtilities.CreateInstance<StoreCallCompletions>(sp), gate));

        var app = builder.Build();
        app.UseAuthentication();
        app.UseAuthorization();
        app.UseUsageBilling();
        app.MapGet("/x", () => "ok").RequireApiKey().WithCost(1m);
        await app.StartAsync();
        return app;
    }

    private static async Task<(string Account, HttpClient Client)> CustomerAsync(WebApplication app, decimal grant = 100m)
    {
        var account = await app.Services.GetRequiredService<AccountManager>().CreateAsync("Acme");
        await app.Services.GetRequiredService<CreditManager>().PostAsync(account.Id, LedgerEntryKind.Grant, Money.FromUnits(grant), "seed");
        var key = await app.Services.GetRequiredService<ApiKeyManager>().CreateAsync(account.Id, "test");
        var client = app.GetTestClient();
        client.DefaultRequestHeaders.Add("X-API-Key", key.Plaintext);
        return (account.Id, client);
    }

    private static Task WaitUntilAsync(Func<bool> condition)
        => Polling.WaitUntilAsync(condition, TimeSpan.FromSeconds(30), "Timed out waiting for the completions.");

    private static Task WaitUntilAsync(Func<Task<bool>> condition)
        => Polling.WaitUntilAsync(condition, TimeSpan.FromSeconds(30), "Timed out waiting for the completions.");
}
