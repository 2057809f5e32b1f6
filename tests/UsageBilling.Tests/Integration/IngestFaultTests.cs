using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using UsageBilling.Tests.Faults;
using UsageBilling.Tests.Shared;

namespace UsageBilling.Tests.Integration;

/// <summary>A LiteLLM post that fails part-way is finished by the sender's retry: charge, budget spend and usage record, each exactly once.</summary>
public sealed class IngestFaultTests
{
    private const string Secret = "litellm-callback-secret-0123456789abcdef";

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_budget_add_that_fails_is_finished_by_the_retry_exactly_once(bool afterApplying)
    {
        var faults = new StoreFaults();
        await using var app = await StartAsync(faults);
        var account = await app.Services.GetRequiredService<AccountManager>().CreateAsync("Customer 42");
        await app.Services.GetRequiredService<AccountManager>().SetBudgetAsync(account.Id, new SpendBudget { Monthly = Money.FromUnits(10m) });
        await app.Services.GetRequiredService<CreditManager>().PostAsync(account.Id, LedgerEntryKind.Grant, Money.FromUnits(1m));
        app.Services.GetRequiredService<Microsoft.Extensions.Options.IOptionsMonitor<UsageBillingOptions>>().CurrentValue.Ingest.EndUserAccounts["customer-42"] = account.Id;
        var now = DateTimeOffset.UtcNow;
        var entry = Entry(now);

        faults.Arm("increment", 1, afterApplying);
        using (var failed = await PostAsync(app, entry))
        {
            await MeteredApiFactory.ReadProblemAsync(failed, 503, ProblemTypes.StoreUnavailable);
            Assert.NotNull(failed.Headers.RetryAfter);
        }

        for (var i = 0; i < 3; i++)
        {
            using var retried = await PostAsync(app, entry);
            Assert.Equal(HttpStatusCode.OK, retried.StatusCode);
        }

        // 100,000 input tokens at 2.5 per million = 0.25, charged, counted and logged once.
        var cost = Money.FromUnits(0.25m);
        await WaitUntilAsync(() => app.Services.GetRequiredService<PendingCompletions>().Count == 0);
        Assert.Equal(Money.FromUnits(1m) - cost, (await app.Services.GetRequiredService<CreditManager>().GetBalanceAsync(account.Id)).Balance);
        var spent = await app.Services.GetRequiredService<ICounterStore>().GetAsync([$"spend:account:{account.Id}:m:{now.UtcDateTime:yyyyMM}"]);
        Assert.Equal(cost.Nanos, spent[0]);
        var usage = app.Services.GetRequiredService<IUsageStore>();
        await WaitUntilAsync(() => usage.QueryAsync(new UsageQuery { AccountId = account.Id }).AsTask().Result.Records.Count > 0);
        var records = (await usage.QueryAsync(new UsageQuery { AccountId = account.Id })).Records;
        Assert.Equal(cost, Assert.Single(records).Cost);
        Assert.Equal(1, faults.Thrown);
    }

    private static async Task<WebApplication> StartAsync(StoreFaults faults)
    {
        var builder = WebApplication.CreateBuilder();
        builder.WebHost.UseTestServer();
        builder.Logging.ClearProviders();
        builder.Services.AddUsageBilling(o =>
        {
            o.Ingest.Secret = Secret;
            o.Pricing.Models.Add(new ModelPriceOptions { Model = "gpt-4o", Input = 2.5m, Output = 10m });
            o.UsageLog.FlushInterval = TimeSpan.FromMilliseconds(20);
        });
        builder.Services.AddStoreFaults(faults);
        var app = builder.Build();
        app.MapLiteLlmUsageIngest();
        await app.StartAsync();
        return app;
    }

    private static Task<HttpResponseMessage> PostAsync(WebApplication app, string body)
    {
        var client = app.GetTestClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Secret);
        return client.PostAsync("/ingest/litellm", new StringContent(body, Encoding.UTF8, "application/json"));
    }

    private static string Entry(DateTimeOffset at)
    {
        var start = (at.ToUnixTimeMilliseconds() / 1000.0).ToString(CultureInfo.InvariantCulture);
        return $$"""
            {"id":"call-1","call_type":"acompletion","status":"success","model":"gpt-4o","prompt_tokens":100000,"completion_tokens":0,
             "total_tokens":100000,"startTime":{{start}},"endTime":{{start}},"end_user":"customer-42"}
            """;
    }

    private static Task WaitUntilAsync(Func<bool> condition)
        => Polling.WaitUntilAsync(condition, TimeSpan.FromSeconds(10), "The condition did not come true within 10 s.");
}
