using System.Net;
using System.Net.Http.Headers;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using UsageBilling.Tests.Shared;

namespace UsageBilling.Tests.Faults;

/// <summary>
/// Metered calls while one store operation fails on its N-th call (before or after the store applied it), on a real
/// host with the backend of the derived class. Whatever fails, once the retried writes have landed: every 2xx was
/// charged exactly once and nothing else was; the ledger sums to the balance; no hold is left; the request and budget
/// counters hold exactly the calls that were served; and every answered call has exactly one usage record.
/// </summary>
public abstract class MeteredCallFaultSpecification
{
    private const decimal Granted = 100m;

    /// <summary>Why the backend is unavailable (the tests are skipped), or null.</summary>
    protected virtual string? SkipReason => null;

    /// <summary>Registers the backend's stores.</summary>
    protected abstract void UseBackend(UsageBillingBuilder billing);

    /// <summary><see cref="CreditOptions.WaitForCharge"/>: whether requests end only after their charge is written.</summary>
    protected virtual bool WaitForCharge => true;

    public static TheoryData<string, int, bool, int> Faults()
    {
        var data = new TheoryData<string, int, bool, int>();
        foreach (var after in new[] { false, true })
        {
            foreach (var nth in new[] { 1, 2, 5, 11 })
            {
                data.Add("reserve", nth, after, 1);
                data.Add("settle", nth, after, 1);
            }

            data.Add("release", 1, after, 1);
            data.Add("release", 2, after, 1);
            data.Add("append", 1, after, 1);

            // An outage over several calls: the settles that fail are retried until they land, once each.
            data.Add("settle", 2, after, 6);
            data.Add("release", 1, after, 3);
        }

        // A counter increment whose answer is lost cannot be told from one that never happened; only outright failures are injected.
        foreach (var nth in new[] { 1, 2, 3, 6, 12 })
        {
            data.Add("increment", nth, false, 1);
        }

        data.Add("increment", 2, false, 8);
        data.Add("reserve", 3, false, 8);

        return data;
    }

    [SkippableTheory]
    [MemberData(nameof(Faults))]
    public async Task A_store_fault_serves_no_call_free_and_leaves_no_count_or_hold_behind(string operation, int nth, bool afterApplying, int times)
    {
        Skip.If(SkipReason is not null, SkipReason);
        var faults = new StoreFaults();
        await using var app = await StartAsync(faults);
        var (account, keyId, key) = await CreateCustomerAsync(app);
        using var client = app.GetTestClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);

        faults.Arm(operation, nth, afterApplying, times);
        var calls = new List<Call>();
        foreach (var path in new[] { "/x", "/x", "/x/fail", "/x/throw", "/x", "/x/fail", "/x" })
        {
            calls.Add(await SendAsync(client, HttpMethod.Get, path));
        }

        calls.Add(await SendAsync(client, HttpMethod.Post, "/x", "order-1"));
        calls.Add(await SendAsync(client, HttpMethod.Post, "/x", "order-1"));
        calls.AddRange(await Task.WhenAll(Enumerable.Range(0, 12).Select(_ => SendAsync(client, HttpMethod.Get, "/x"))));

        // A batch that fails is deferred before its callers are answered: once nothing is unwritten, the retries are counted.
        var completions = app.Services.GetRequiredService<CallCompletions>();
        var pending = app.Services.GetRequiredService<PendingCompletions>();
        await WaitUntilAsync(() => Task.FromResult(completions.Unwritten == 0 && pending.Count == 0), "the completions to land");

        var charged = calls.Count(c => c.Status == HttpStatusCode.OK && !c.Replayed);
        var served = charged + calls.Count(c => c.Path == "/x/fail" && c.Status == HttpStatusCode.InternalServerError);
        Assert.All(calls, c => Assert.True(c.Status is HttpStatusCode.OK or HttpStatusCode.InternalServerError or HttpStatusCode.ServiceUnavailable or HttpStatusCode.Conflict,
            $"{c.Path}: {c.Status}"));

        var credits = app.Services.GetRequiredService<ICreditStore>();
        var balance = await credits.GetBalanceAsync(account);
        Assert.Equal(Money.Zero, balance.Reserved);
        Assert.Equal(Money.FromUnits(Granted - charged), balance.Balance);
        Assert.Equal(balance.Balance, await LedgerSumAsync(credits, account));

        var now = DateTimeOffset.UtcNow;
        var counters = await app.Services.GetRequiredService<ICounterStore>().GetAsync(
            [$"{keyId}:d:{now.ToUnixTimeSeconds() / 86_400}", $"spend:account:{account}:m:{now.UtcDateTime:yyyyMM}"]);
        Assert.Equal(served, counters[0]);
        Assert.Equal(Money.FromUnits(charged).Nanos, counters[1]);

        var usage = app.Services.GetRequiredService<IUsageStore>();
        await WaitUntilAsync(async () => (await usage.QueryAsync(new UsageQuery { AccountId = account, Limit = 1000 })).Records.Count >= calls.Count,
            "a usage record for every call");
        var records = (await usage.QueryAsync(new UsageQuery { AccountId = account, Limit = 1000 })).Records;
        Assert.Equal(calls.Count, records.Count);
        Assert.Equal(charged, records.Count(r => r.Outcome == UsageOutcomes.Charged));
        Assert.Equal(Money.FromUnits(charged), records.Aggregate(Money.Zero, (sum, r) => sum + r.Cost));
        Assert.Equal(times, faults.Thrown);
    }

    private async Task<WebApplication> StartAsync(StoreFaults faults)
    {
        var builder = WebApplication.CreateBuilder();
        builder.WebHost.UseTestServer();
        builder.Logging.ClearProviders();
        var billing = builder.Services.AddUsageBilling(o =>
        {
            o.Plans.Limits["default"] = new RequestLimits { RequestsPerDay = 10_000 };
            o.UsageLog.FlushInterval = TimeSpan.FromMilliseconds(20);
            o.Credits.WaitForCharge = WaitForCharge;
        });
        UseBackend(billing);
        builder.Services.AddStoreFaults(faults);

        var app = builder.Build();
        app.UseAuthentication();
        app.UseAuthorization();
        app.UseUsageBilling();
        app.MapGet("/x", () => "ok").RequireApiKey().WithCost(1m);
        app.MapPost("/x", () => TypedResults.Created("/x/1", new { id = 1 })).RequireApiKey().WithCost(1m);
        app.MapGet("/x/fail", () => Results.StatusCode(500)).RequireApiKey().WithCost(1m);
        app.MapGet("/x/throw", string () => throw new InvalidOperationException("The endpoint failed.")).RequireApiKey().WithCost(1m);
        await app.StartAsync();
        return app;
    }

    private static async Task<(string Account, string KeyId, string Key)> CreateCustomerAsync(WebApplication app)
    {
        var accounts = app.Services.GetRequiredService<AccountManager>();
        var account = await accounts.CreateAsync("Acme");
        await accounts.SetBudgetAsync(account.Id, new SpendBudget { Monthly = Money.FromUnits(1_000m) });
        await app.Services.GetRequiredService<CreditManager>().PostAsync(account.Id, LedgerEntryKind.Grant, Money.FromUnits(Granted), "seed");
        var key = await app.Services.GetRequiredService<ApiKeyManager>().CreateAsync(account.Id, "test");
        return (account.Id, key.Key.Id, key.Plaintext);
    }

    private static async Task<Call> SendAsync(HttpClient client, HttpMethod method, string path, string? idempotencyKey = null)
    {
        using var request = new HttpRequestMessage(method, path);
        if (idempotencyKey is not null)
        {
            request.Headers.Add("Idempotency-Key", idempotencyKey);
            request.Content = new StringContent("""{"amount":1}""", System.Text.Encoding.UTF8, "application/json");
        }

        try
        {
            using var response = await client.SendAsync(request);
            var status = response.StatusCode == HttpStatusCode.Created ? HttpStatusCode.OK : response.StatusCode;
            return new Call(path, status, response.Headers.Contains("Idempotent-Replayed"));
        }
        catch (InvalidOperationException)
        {
            // TestServer hands the endpoint's exception to the client: the caller saw a 500.
            return new Call(path, HttpStatusCode.InternalServerError, false);
        }
    }

    private static Task WaitUntilAsync(Func<Task<bool>> condition, string what)
        => Polling.WaitUntilAsync(condition, TimeSpan.FromSeconds(30), $"Timed out waiting for {what}.");

    private static async Task<Money> LedgerSumAsync(ICreditStore store, string account)
    {
        var sum = Money.Zero;
        string? cursor = null;
        do
        {
            var page = await store.GetLedgerAsync(account, 500, cursor);
            sum = page.Entries.Aggregate(sum, (total, entry) => total + entry.Amount);
            cursor = page.NextCursor;
        }
        while (cursor is not null);
        return sum;
    }

    private sealed record Call(string Path, HttpStatusCode Status, bool Replayed);
}
