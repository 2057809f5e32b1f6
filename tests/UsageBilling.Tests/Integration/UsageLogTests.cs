using System.Net;
using Microsoft.Extensions.DependencyInjection;

namespace UsageBilling.Tests.Integration;

public sealed class UsageLogTests
{
    [Fact]
    public async Task Every_metered_request_is_logged_with_its_outcome_and_cost()
    {
        using var factory = new MeteredApiFactory();
        var (accountId, key, keyId) = await factory.CreateCustomerAsync(credits: 0.01m);
        using var client = factory.CreateKeyClient(key);
        using var request = new HttpRequestMessage(HttpMethod.Get, "/v1/quote");
        request.Headers.Add("Idempotency-Key", "log-1");
        Assert.Equal(HttpStatusCode.OK, (await client.SendAsync(request)).StatusCode);
        Assert.Equal(HttpStatusCode.PaymentRequired, (await client.GetAsync("/v1/reports/7")).StatusCode);

        var records = await factory.WaitForUsageAsync(accountId, 2);

        Assert.Equal(2, records.Length);
        var refused = records.Single(r => r.GetProperty("statusCode").GetInt32() == 402);
        Assert.Equal("/v1/reports/{id}", refused.GetProperty("route").GetString());
        Assert.Equal(0m, refused.GetProperty("cost").GetDecimal());
        Assert.Equal(UsageOutcomes.InsufficientCredits, refused.GetProperty("outcome").GetString());
        var charged = records.Single(r => r.GetProperty("statusCode").GetInt32() == 200);
        Assert.Equal("GET", charged.GetProperty("method").GetString());
        Assert.Equal("/v1/quote", charged.GetProperty("route").GetString());
        Assert.Equal(0.01m, charged.GetProperty("cost").GetDecimal());
        Assert.Equal("log-1", charged.GetProperty("idempotencyKey").GetString());
        Assert.Equal(keyId, charged.GetProperty("keyId").GetString());
        Assert.Equal(UsageOutcomes.Charged, charged.GetProperty("outcome").GetString());
        // Measured when the response ended: a record that kept its start's zero would not be.
        Assert.True(charged.GetProperty("durationMs").GetDouble() > 0);
        Assert.False(charged.GetProperty("clientAborted").GetBoolean());
        Assert.StartsWith("req_", charged.GetProperty("requestId").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Records_still_queued_are_written_on_graceful_shutdown()
    {
        var factory = new MeteredApiFactory
        {
            ConfigureTestServices = services => services.Configure<UsageBillingOptions>(o =>
            {
                o.UsageLog.FlushInterval = TimeSpan.FromHours(1);
                o.UsageLog.BatchSize = 10_000;
            }),
        };
        var (accountId, key, _) = await factory.CreateCustomerAsync(credits: 1m, plan: "unmetered");
        var store = factory.Services.GetRequiredService<IUsageStore>();
        using (var client = factory.CreateKeyClient(key))
        {
            for (var i = 0; i < 25; i++)
            {
                Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/v1/quote")).StatusCode);
            }
        }

        Assert.Empty((await store.QueryAsync(new UsageQuery { AccountId = accountId })).Records);
        await factory.DisposeAsync();

        Assert.Equal(25, (await store.QueryAsync(new UsageQuery { AccountId = accountId, Limit = 100 })).Records.Count);
    }

    [Fact]
    public async Task A_full_batch_is_written_at_once_without_waiting_for_the_flush_interval()
    {
        using var factory = new MeteredApiFactory
        {
            ConfigureTestServices = services => services.Configure<UsageBillingOptions>(o =>
            {
                o.UsageLog.FlushInterval = TimeSpan.FromHours(1);
                o.UsageLog.BatchSize = 5;
            }),
        };
        var (accountId, key, _) = await factory.CreateCustomerAsync(credits: 1m, plan: "unmetered");
        var store = factory.Services.GetRequiredService<IUsageStore>();
        using var client = factory.CreateKeyClient(key);
        for (var i = 0; i < 4; i++)
        {
            Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/v1/quote")).StatusCode);
        }

        Assert.Empty((await store.QueryAsync(new UsageQuery { AccountId = accountId })).Records);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/v1/quote")).StatusCode);

        // The writer waits for five queued records (or the hour), not for each one: the fifth releases it.
        Assert.Equal(5, (await factory.WaitForUsageAsync(accountId, 5)).Length);
    }

    [Fact]
    public async Task The_usage_log_sets_the_last_use_of_keys_off_the_request_path()
    {
        using var factory = new MeteredApiFactory();
        var (accountId, key, keyId) = await factory.CreateCustomerAsync(credits: 1m);
        using var client = factory.CreateKeyClient(key);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/v1/quote")).StatusCode);
        await factory.WaitForUsageAsync(accountId, 1);

        var keys = factory.Services.GetRequiredService<IApiKeyStore>();
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while ((await keys.FindByIdAsync(keyId))!.LastUsedAt is null && DateTime.UtcNow < deadline)
        {
            await Task.Delay(20);
        }

        Assert.Equal(factory.Time.GetUtcNow(), (await keys.FindByIdAsync(keyId))!.LastUsedAt);
    }

    [Fact]
    public async Task Usage_can_be_filtered_by_half_open_period_and_paged()
    {
        using var factory = new MeteredApiFactory();
        var (accountId, key, _) = await factory.CreateCustomerAsync(credits: 1m, plan: "unmetered");
        using var client = factory.CreateKeyClient(key);
        var start = factory.Time.GetUtcNow();
        for (var i = 0; i < 5; i++)
        {
            Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/v1/quote")).StatusCode);
            factory.Time.Advance(TimeSpan.FromMinutes(1));
        }

        await factory.WaitForUsageAsync(accountId, 5);
        using var admin = factory.CreateAdminClient();
        var from = Uri.EscapeDataString(start.AddMinutes(1).ToString("O"));
        var to = Uri.EscapeDataString(start.AddMinutes(4).ToString("O"));
        var page = await MeteredApiFactory.ReadJsonAsync(await admin.GetAsync($"/admin/billing/usage?accountId={accountId}&from={from}&to={to}&limit=2"));
        Assert.Equal(2, page.GetProperty("records").GetArrayLength());
        var cursor = Uri.EscapeDataString(page.GetProperty("nextCursor").GetString()!);
        var rest = await MeteredApiFactory.ReadJsonAsync(await admin.GetAsync($"/admin/billing/usage?accountId={accountId}&from={from}&to={to}&limit=2&cursor={cursor}"));
        Assert.Equal(1, rest.GetProperty("records").GetArrayLength());
        Assert.Equal(start.AddMinutes(1), rest.GetProperty("records")[0].GetProperty("timestamp").GetDateTimeOffset());
    }
}
