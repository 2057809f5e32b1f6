using System.Net;
using System.Net.Http.Json;
using System.Text.Json;

namespace UsageBilling.Tests.Integration;

public sealed class AnalyticsAndSelfServiceTests : IDisposable
{
    private readonly MeteredApiFactory _factory = new();

    public void Dispose() => _factory.Dispose();

    [Fact]
    public async Task Analytics_agree_with_the_raw_request_log()
    {
        var (first, firstKey, firstKeyId) = await _factory.CreateCustomerAsync(credits: 1m, plan: "unmetered");
        var (second, secondKey, _) = await _factory.CreateCustomerAsync(credits: 0.05m, plan: "unmetered");
        using var a = _factory.CreateKeyClient(firstKey);
        using var b = _factory.CreateKeyClient(secondKey);
        var start = _factory.Time.GetUtcNow();
        for (var day = 0; day < 3; day++)
        {
            for (var i = 0; i <= day; i++)
            {
                await a.GetAsync("/v1/quote");
                await a.GetAsync("/v1/reports/r");
                await b.GetAsync("/v1/reports/r");
            }

            _factory.Time.Advance(TimeSpan.FromDays(1));
        }

        var raw = (await _factory.WaitForUsageAsync(first, 12)).Concat(await _factory.WaitForUsageAsync(second, 6)).ToList();
        Assert.Equal(18, raw.Count);
        using var admin = _factory.CreateAdminClient();
        var period = $"from={Uri.EscapeDataString(start.ToString("O"))}&to={Uri.EscapeDataString(start.AddDays(3).ToString("O"))}";

        var total = (await Rows(admin, $"/admin/billing/analytics/summary?{period}")).Single();
        Assert.Equal(raw.Count, total.GetProperty("requests").GetInt64());
        Assert.Equal(raw.Count(r => r.GetProperty("statusCode").GetInt32() >= 400), total.GetProperty("errors").GetInt64());
        Assert.Equal(raw.Sum(r => r.GetProperty("cost").GetDecimal()), total.GetProperty("cost").GetDecimal());
        var durations = raw.Select(r => r.GetProperty("durationMs").GetDouble()).Order().ToList();
        Assert.Equal(durations[(int)Math.Ceiling(0.95 * durations.Count) - 1], total.GetProperty("p95DurationMs").GetDouble(), 6);
        Assert.Equal(durations.Average(), total.GetProperty("averageDurationMs").GetDouble(), 6);

        var daily = await Rows(admin, $"/admin/billing/analytics/daily?{period}");
        Assert.Equal([3L, 6L, 9L], daily.Select(d => d.GetProperty("requests").GetInt64()));
        Assert.Equal(raw.GroupBy(r => r.GetProperty("timestamp").GetDateTimeOffset().UtcDateTime.Date).OrderBy(g => g.Key).Select(g => (long)g.Count()),
            daily.Select(d => d.GetProperty("requests").GetInt64()));

        var byAccount = await Rows(admin, $"/admin/billing/analytics/by-account?{period}");
        Assert.Equal([first, second], byAccount.Select(r => r.GetProperty("group").GetString()));
        Assert.Equal(raw.Where(r => r.GetProperty("accountId").GetString() == second).Sum(r => r.GetProperty("cost").GetDecimal()),
            byAccount[1].GetProperty("cost").GetDecimal());

        var top = await Rows(admin, $"/admin/billing/analytics/top-accounts?{period}&by=requests&limit=1");
        Assert.Equal(first, Assert.Single(top).GetProperty("group").GetString());

        var byKey = await Rows(admin, $"/admin/billing/analytics/by-key?{period}&accountId={first}");
        Assert.Equal(firstKeyId, Assert.Single(byKey).GetProperty("group").GetString());
    }

    [Fact]
    public async Task Quota_status_lists_every_key_with_its_monthly_usage()
    {
        var (_, key, keyId) = await _factory.CreateCustomerAsync(credits: 1m, limits: new { monthlyRequests = 5 });
        using var client = _factory.CreateKeyClient(key);
        await client.GetAsync("/v1/quote");
        await client.GetAsync("/v1/quote");

        using var admin = _factory.CreateAdminClient();
        var page = await MeteredApiFactory.ReadJsonAsync(await admin.GetAsync("/admin/billing/analytics/quotas?limit=1000"));
        var status = page.GetProperty("keys").EnumerateArray().Single(k => k.GetProperty("keyId").GetString() == keyId);
        Assert.Equal(2, status.GetProperty("used").GetInt64());
        Assert.Equal(5, status.GetProperty("limit").GetInt64());
        Assert.Equal(3, status.GetProperty("remaining").GetInt64());
        Assert.Equal(new DateTimeOffset(2026, 12, 1, 0, 0, 0, TimeSpan.Zero), status.GetProperty("resetAt").GetDateTimeOffset());
    }

    [Fact]
    public async Task Self_service_shows_the_callers_own_balance_usage_limits_and_ledger()
    {
        var (accountId, key, keyId) = await _factory.CreateCustomerAsync(credits: 1m, limits: new { requestsPerMinute = 30 });
        using var client = _factory.CreateKeyClient(key);
        await client.GetAsync("/v1/quote");
        await client.GetAsync("/v1/reports/x");
        await _factory.WaitForUsageAsync(accountId, 2);

        var balance = await MeteredApiFactory.ReadJsonAsync(await client.GetAsync("/v1/billing/balance"));
        Assert.Equal(accountId, balance.GetProperty("accountId").GetString());
        Assert.Equal(0.94m, balance.GetProperty("balance").GetDecimal());

        var usage = await MeteredApiFactory.ReadJsonAsync(await client.GetAsync("/v1/billing/usage"));
        Assert.Equal(2, usage.GetProperty("totals").GetProperty("requests").GetInt64());
        Assert.Equal(0.06m, usage.GetProperty("totals").GetProperty("cost").GetDecimal());
        Assert.Equal("2026-11-15", usage.GetProperty("daily")[0].GetProperty("group").GetString());

        var limits = await MeteredApiFactory.ReadJsonAsync(await client.GetAsync("/v1/billing/limits"));
        Assert.Equal(keyId, limits.GetProperty("keyId").GetString());
        var minute = limits.GetProperty("windows").EnumerateArray().Single(w => w.GetProperty("policy").GetString() == "minute");
        Assert.Equal(30, minute.GetProperty("limit").GetInt64());
        Assert.Equal(2, minute.GetProperty("used").GetInt64());

        var ledger = await MeteredApiFactory.ReadJsonAsync(await client.GetAsync("/v1/billing/ledger"));
        Assert.Equal([-0.05m, -0.01m, 1m], ledger.GetProperty("entries").EnumerateArray().Select(e => e.GetProperty("amount").GetDecimal()));
    }

    [Fact]
    public async Task Another_accounts_data_is_unreachable_through_self_service()
    {
        var (mine, myKey, _) = await _factory.CreateCustomerAsync(credits: 1m);
        var (theirs, theirKey, _) = await _factory.CreateCustomerAsync(credits: 7m);
        using var me = _factory.CreateKeyClient(myKey);
        using var them = _factory.CreateKeyClient(theirKey);
        await them.GetAsync("/v1/quote");
        var theirCursorPage = await MeteredApiFactory.ReadJsonAsync(await them.GetAsync("/v1/billing/ledger?limit=1"));
        var theirCursor = theirCursorPage.GetProperty("nextCursor").GetString();

        var balance = await MeteredApiFactory.ReadJsonAsync(await me.GetAsync($"/v1/billing/balance?accountId={theirs}"));
        Assert.Equal(mine, balance.GetProperty("accountId").GetString());
        Assert.Equal(1m, balance.GetProperty("balance").GetDecimal());
        var ledger = await MeteredApiFactory.ReadJsonAsync(await me.GetAsync($"/v1/billing/ledger?accountId={theirs}&cursor={theirCursor}"));
        Assert.DoesNotContain(ledger.GetProperty("entries").EnumerateArray(), e => e.GetProperty("accountId").GetString() == theirs);
        var usage = await MeteredApiFactory.ReadJsonAsync(await me.GetAsync($"/v1/billing/usage?accountId={theirs}"));
        Assert.Equal(0, usage.GetProperty("totals").GetProperty("requests").GetInt64());
        using var anonymous = _factory.CreateClient();
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync("/v1/billing/balance")).StatusCode);
    }

    [Fact]
    public async Task The_openapi_document_describes_the_admin_and_self_service_endpoints()
    {
        using var client = _factory.CreateClient();
        var document = await MeteredApiFactory.ReadJsonAsync(await client.GetAsync("/openapi/v1.json"));
        var paths = document.GetProperty("paths").EnumerateObject().Select(p => p.Name).ToList();
        Assert.Contains("/admin/billing/accounts", paths);
        Assert.Contains("/admin/billing/analytics/summary", paths);
        Assert.Contains("/admin/billing/pricing/models/{model}", paths);
        Assert.Contains("/v1/billing/balance", paths);
        Assert.Contains("/v1/billing/usage", paths);
    }

    private static async Task<JsonElement[]> Rows(HttpClient admin, string url)
        => (await MeteredApiFactory.ReadJsonAsync(await admin.GetAsync(url))).GetProperty("rows").EnumerateArray().ToArray();
}
