using System.Globalization;
using System.Net;
using System.Net.Http.Json;

namespace UsageBilling.Tests.Integration;

public sealed class MeteringTests : IDisposable
{
    private readonly MeteredApiFactory _factory = new();

    public void Dispose() => _factory.Dispose();

    [Fact]
    public async Task A_call_is_charged_its_price_and_the_account_runs_out_with_402()
    {
        var (accountId, key, _) = await _factory.CreateCustomerAsync(credits: 0.03m);
        using var client = _factory.CreateKeyClient(key);

        for (var i = 0; i < 3; i++)
        {
            var ok = await client.GetAsync("/v1/quote");
            Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        }

        Assert.Equal((0m, 0m), await _factory.GetBalanceAsync(accountId));
        var refused = await client.GetAsync("/v1/quote");
        var problem = await MeteredApiFactory.ReadProblemAsync(refused, 402, ProblemTypes.InsufficientCredits);
        Assert.Equal(0.01m, problem.GetProperty("required").GetDecimal());
        Assert.Equal((0m, 0m), await _factory.GetBalanceAsync(accountId));
        Assert.Equal(0m, await _factory.GetLedgerSumAsync(accountId));
    }

    [Fact]
    public async Task A_named_price_comes_from_configuration()
    {
        var (accountId, key, _) = await _factory.CreateCustomerAsync(credits: 1m);
        using var client = _factory.CreateKeyClient(key);

        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/v1/reports/r1")).StatusCode);
        Assert.Equal((0.95m, 0m), await _factory.GetBalanceAsync(accountId));
    }

    [Fact]
    public async Task A_response_that_is_not_billable_is_not_charged()
    {
        var (accountId, key, _) = await _factory.CreateCustomerAsync(credits: 1m);
        using var client = _factory.CreateKeyClient(key);

        var response = await client.GetAsync($"/v1/reports/{new string('x', 65)}");
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal((1m, 0m), await _factory.GetBalanceAsync(accountId));
    }

    [Fact]
    public async Task Every_metered_response_carries_rate_limit_headers_for_the_tightest_limit()
    {
        var (_, key, _) = await _factory.CreateCustomerAsync(credits: 1m, limits: new { requestsPerMinute = 10, requestsPerSecond = 3 });
        using var client = _factory.CreateKeyClient(key);

        var response = await client.GetAsync("/v1/quote");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("3", Header(response, "X-RateLimit-Limit"));
        Assert.Equal("2", Header(response, "X-RateLimit-Remaining"));
        var reset = _factory.Time.GetUtcNow().ToUnixTimeSeconds() + 1;
        Assert.Equal(reset.ToString(CultureInfo.InvariantCulture), Header(response, "X-RateLimit-Reset"));
        var policy = Header(response, "RateLimit-Policy");
        Assert.Contains("\"second\";q=3;w=1", policy, StringComparison.Ordinal);
        Assert.Contains("\"minute\";q=10;w=60", policy, StringComparison.Ordinal);
        Assert.Contains("\"month\";q=10000;w=2592000", policy, StringComparison.Ordinal);
        Assert.Contains("\"second\";r=2;t=1", Header(response, "RateLimit"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Over_a_limit_the_caller_gets_429_with_retry_after_and_is_not_charged_until_the_window_rolls_over()
    {
        var (accountId, key, _) = await _factory.CreateCustomerAsync(credits: 1m, limits: new { requestsPerMinute = 2 });
        using var client = _factory.CreateKeyClient(key);
        _factory.Time.SetUtcNow(new DateTimeOffset(2026, 11, 15, 10, 0, 15, TimeSpan.Zero));

        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/v1/quote")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/v1/quote")).StatusCode);
        var refused = await client.GetAsync("/v1/quote");
        var problem = await MeteredApiFactory.ReadProblemAsync(refused, 429, ProblemTypes.RateLimited);
        Assert.Equal("minute", problem.GetProperty("limit").GetString());
        Assert.Equal("45", refused.Headers.RetryAfter?.ToString());
        Assert.Equal("0", Header(refused, "X-RateLimit-Remaining"));
        Assert.Equal((0.98m, 0m), await _factory.GetBalanceAsync(accountId));

        _factory.Time.Advance(TimeSpan.FromSeconds(45));
        var next = await client.GetAsync("/v1/quote");
        Assert.Equal(HttpStatusCode.OK, next.StatusCode);
        Assert.Equal("1", Header(next, "X-RateLimit-Remaining"));
    }

    [Fact]
    public async Task The_monthly_quota_follows_the_utc_calendar_month()
    {
        var (_, key, _) = await _factory.CreateCustomerAsync(credits: 1m, limits: new { monthlyRequests = 2 });
        using var client = _factory.CreateKeyClient(key);
        _factory.Time.SetUtcNow(new DateTimeOffset(2026, 11, 30, 23, 59, 0, TimeSpan.Zero));

        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/v1/quote")).StatusCode);
        var last = await client.GetAsync("/v1/quote");
        Assert.Equal(new DateTimeOffset(2026, 12, 1, 0, 0, 0, TimeSpan.Zero).ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture), Header(last, "X-RateLimit-Reset"));
        var refused = await client.GetAsync("/v1/quote");
        Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
        Assert.Equal("60", refused.Headers.RetryAfter?.ToString());

        _factory.Time.Advance(TimeSpan.FromMinutes(1));
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/v1/quote")).StatusCode);
    }

    [Fact]
    public async Task Plan_limits_apply_and_a_key_can_override_them()
    {
        // The sample's "free" plan allows 5 requests per second.
        var (_, planKey, _) = await _factory.CreateCustomerAsync(credits: 1m);
        using var planClient = _factory.CreateKeyClient(planKey);
        var first = await planClient.GetAsync("/v1/quote");
        Assert.Equal("5", Header(first, "X-RateLimit-Limit"));

        var (_, overriddenKey, _) = await _factory.CreateCustomerAsync(credits: 1m, limits: new { requestsPerSecond = 1 });
        using var overridden = _factory.CreateKeyClient(overriddenKey);
        Assert.Equal(HttpStatusCode.OK, (await overridden.GetAsync("/v1/quote")).StatusCode);
        Assert.Equal(HttpStatusCode.TooManyRequests, (await overridden.GetAsync("/v1/quote")).StatusCode);
    }

    [Fact]
    public async Task A_refusal_for_credit_does_not_use_up_quota()
    {
        var (accountId, key, _) = await _factory.CreateCustomerAsync(credits: 0.01m, limits: new { requestsPerMinute = 2 });
        using var client = _factory.CreateKeyClient(key);

        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/v1/quote")).StatusCode);
        var refused = await client.GetAsync("/v1/quote");
        Assert.Equal(HttpStatusCode.PaymentRequired, refused.StatusCode);
        Assert.Equal("1", Header(refused, "X-RateLimit-Remaining"));
        using var admin = _factory.CreateAdminClient();
        await admin.PostAsJsonAsync($"/admin/billing/accounts/{accountId}/credits", new { amount = 1m });
        var paid = await client.GetAsync("/v1/quote");
        Assert.Equal(HttpStatusCode.OK, paid.StatusCode);
        Assert.Equal("0", Header(paid, "X-RateLimit-Remaining"));
    }

    [Fact]
    public async Task Hundreds_of_parallel_calls_never_overrun_the_balance()
    {
        var (accountId, key, _) = await _factory.CreateCustomerAsync(credits: 0.5m, plan: "unmetered");
        using var client = _factory.CreateKeyClient(key);

        var responses = await Task.WhenAll(Enumerable.Range(0, 300).Select(_ => client.GetAsync("/v1/quote")));

        Assert.Equal(50, responses.Count(r => r.StatusCode == HttpStatusCode.OK));
        Assert.Equal(250, responses.Count(r => r.StatusCode == HttpStatusCode.PaymentRequired));
        Assert.Equal((0m, 0m), await _factory.GetBalanceAsync(accountId));
        Assert.Equal(0m, await _factory.GetLedgerSumAsync(accountId));
    }

    internal static string? Header(HttpResponseMessage response, string name)
        => response.Headers.TryGetValues(name, out var values) ? string.Join(", ", values) : null;
}
