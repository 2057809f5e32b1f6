using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;

namespace UsageBilling.Tests.Integration;

/// <summary>LiteLLM's generic_api success callback, billed into our accounts.</summary>
public sealed class LiteLlmIngestTests : IAsyncLifetime
{
    private const string Secret = "litellm-callback-secret-0123456789abcdef";
    private WebApplication _app = null!;
    private string _accountId = null!;

    public async Task InitializeAsync() => (_app, _accountId) = await StartAsync(IngestPricing.Catalog);

    public async Task DisposeAsync() => await _app.DisposeAsync();

    [Theory]
    [InlineData(null)]
    [InlineData("Bearer wrong-secret-wrong-secret-wrong-secret")]
    [InlineData("Basic " + Secret)]
    public async Task Without_the_right_token_nothing_is_recorded(string? authorization)
    {
        using var client = _app.GetTestClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, "/ingest/litellm") { Content = Json(Entry("call-1")) };
        if (authorization is not null)
        {
            request.Headers.TryAddWithoutValidation("Authorization", authorization);
        }

        var response = await client.SendAsync(request);
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Contains(ProblemTypes.InvalidIngestToken, await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(Money.FromUnits(1m), (await Credits.GetBalanceAsync(_accountId)).Balance);
    }

    [Fact]
    public async Task A_batch_is_charged_once_per_call_at_catalog_prices_and_logged()
    {
        // gpt-4o: 2.5 input, 1.25 cached, 10 output per million; the account's plan "pro" adds 40 %.
        var result = await PostAsync(Batch(Entry("a", prompt: 1000, completion: 200, cached: 400), Entry("a", prompt: 1000, completion: 200, cached: 400), Entry("b", prompt: 10, completion: 0)));
        Assert.Equal((2, 0, 1), Counts(result));

        var expected = (600 * 2.5m + 400 * 1.25m + 200 * 10m + 10 * 2.5m) / 1_000_000m * 1.4m;
        Assert.Equal(Money.FromUnits(1m - expected), (await Credits.GetBalanceAsync(_accountId)).Balance);

        var again = await PostAsync(Entry("a", prompt: 1000, completion: 200, cached: 400));
        Assert.Equal((0, 0, 1), Counts(again));
        Assert.Equal(Money.FromUnits(1m - expected), (await Credits.GetBalanceAsync(_accountId)).Balance);

        var usage = await WaitForUsageAsync(2);
        var a = usage.Single(r => r.RequestId == "litellm:a");
        Assert.Equal(("gpt-4o", 600L, 400L, 200L), (a.Model, a.InputTokens, a.CachedInputTokens, a.OutputTokens));
        Assert.Equal("litellm:team-key", a.KeyId);
        Assert.Equal(new DateTimeOffset(2026, 11, 21, 9, 0, 0, TimeSpan.Zero), a.Timestamp);
        Assert.Equal(1500, a.DurationMs, 3);
    }

    [Fact]
    public async Task Concurrent_reposts_of_one_call_are_charged_once()
    {
        var results = await Task.WhenAll(Enumerable.Range(0, 50).Select(_ => PostAsync(Entry("same", prompt: 100_000, completion: 0))));

        Assert.Equal(1, results.Sum(r => Counts(r).Processed));
        Assert.Equal(49, results.Sum(r => Counts(r).Duplicates));
        Assert.Equal(Money.FromUnits(1m - 0.35m), (await Credits.GetBalanceAsync(_accountId)).Balance);
    }

    [Fact]
    public async Task The_run_id_wins_over_the_call_id()
    {
        var first = Entry("call-x", prompt: 1000, completion: 0, runId: "run-7");
        var retried = Entry("call-y", prompt: 1000, completion: 0, runId: "run-7");
        Assert.Equal((1, 0, 1), Counts(await PostAsync(Batch(first, retried))));
    }

    [Fact]
    public async Task Bad_entries_are_skipped_with_a_reason_and_the_rest_is_processed()
    {
        var result = await PostAsync(
            "[ 42, {\"model\":\"gpt-4o\"}, " +
            Entry("no-model", model: null) + ", " +
            Entry("negative", prompt: -5) + ", " +
            Entry("failed", status: "failure") + ", " +
            Entry("stranger", endUser: "nobody") + ", " +
            Entry("unpriced", model: "gpt-99") + ", " +
            Entry("good", prompt: 100, completion: 10) + " ]");

        Assert.Equal((1, 7, 0), Counts(result));
        var reasons = result.GetProperty("skippedEntries").EnumerateArray().Select(e => e.GetProperty("reason").GetString()).ToList();
        Assert.Contains("entry is not a JSON object", reasons);
        Assert.Contains("missing 'id' and 'litellm_call_id'", reasons);
        Assert.Contains("missing 'model_group' and 'model'", reasons);
        Assert.Contains(reasons, r => r!.Contains("whole numbers", StringComparison.Ordinal));
        Assert.Contains(reasons, r => r!.Contains("failure", StringComparison.Ordinal));
        Assert.Contains("no billing account from end_user='nobody', end_user_header= and no default account", reasons);
        Assert.Contains("the model 'gpt-99' has no price", reasons);
    }

    [Fact]
    public async Task Ingested_spend_counts_towards_the_accounts_budget()
    {
        var accounts = _app.Services.GetRequiredService<AccountManager>();
        await accounts.SetBudgetAsync(_accountId, new SpendBudget { Monthly = Money.FromUnits(0.5m) });
        var time = _app.Services.GetRequiredService<TimeProvider>().GetUtcNow();
        // A call that ended just now (its end time is what the spend is counted by), not on the fixture's fixed date.
        var entry = Entry("big", prompt: 100_000, completion: 0, start: time.AddSeconds(-2));
        Assert.Equal((1, 0, 0), Counts(await PostAsync(entry)));

        var key = await _app.Services.GetRequiredService<ApiKeyManager>().CreateAsync(_accountId, "k");
        using var limits = _app.GetTestClient();
        limits.DefaultRequestHeaders.Add("X-API-Key", key.Plaintext);
        var status = await (await limits.GetAsync("/v1/billing/limits")).Content.ReadAsStringAsync();
        // 100,000 × 2.5 per million × 1.4 = 0.35 of the 0.5 monthly budget.
        Assert.Contains("\"spent\":0.35", status, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Each_accepted_entry_reports_the_period_it_was_counted_in_and_a_late_call_reports_the_previous_month()
    {
        var now = _app.Services.GetRequiredService<TimeProvider>().GetUtcNow();
        var thisMonth = new DateTimeOffset(now.Year, now.Month, 1, 0, 0, 0, TimeSpan.Zero);
        var lastMonth = thisMonth.AddHours(-1);
        var result = await PostAsync(Batch(Entry("late", start: lastMonth), Entry("unpriced", model: "gpt-99"), Entry("current", start: thisMonth)));
        Assert.Equal((2, 1, 0), Counts(result));
        Assert.Equal(1, result.GetProperty("skippedEntries").GetArrayLength());
        var accepted = result.GetProperty("acceptedEntries").EnumerateArray().ToList();
        Assert.Equal(2, accepted.Count);

        var late = accepted[0];
        Assert.Equal((0, "late", false), (late.GetProperty("index").GetInt32(), late.GetProperty("id").GetString(), late.GetProperty("duplicate").GetBoolean()));
        Assert.Equal(lastMonth.ToString("yyyy-MM", System.Globalization.CultureInfo.InvariantCulture), late.GetProperty("month").GetString());
        Assert.NotEqual(now.ToString("yyyy-MM", System.Globalization.CultureInfo.InvariantCulture), late.GetProperty("month").GetString());
        Assert.Equal(lastMonth.ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture), late.GetProperty("day").GetString());
        Assert.Equal(lastMonth, late.GetProperty("timestamp").GetDateTimeOffset());

        var current = accepted[1];
        Assert.Equal((2, "current"), (current.GetProperty("index").GetInt32(), current.GetProperty("id").GetString()));
        Assert.Equal(thisMonth.ToString("yyyy-MM", System.Globalization.CultureInfo.InvariantCulture), current.GetProperty("month").GetString());
        Assert.Equal(thisMonth.ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture), current.GetProperty("day").GetString());

        // A re-post reports the same period, marked as billed before.
        var again = (await PostAsync(Entry("late", start: lastMonth))).GetProperty("acceptedEntries").EnumerateArray().Single();
        Assert.True(again.GetProperty("duplicate").GetBoolean());
        Assert.Equal(late.GetProperty("month").GetString(), again.GetProperty("month").GetString());
    }

    [Theory]
    [InlineData("{")]
    [InlineData("\"text\"")]
    public async Task A_body_that_is_not_a_payload_is_a_400(string body)
    {
        using var client = AuthorizedClient();
        var response = await client.PostAsync("/ingest/litellm", new StringContent(body, Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
    }

    [Fact]
    public async Task The_end_user_header_is_used_when_end_user_is_empty()
    {
        var entry = Entry("via-header", endUser: "").Replace("\"metadata\": {", "\"metadata\": { \"requester_custom_headers\": { \"x-litellm-end-user-id\": \"customer-42\" },", StringComparison.Ordinal);
        Assert.Equal((1, 0, 0), Counts(await PostAsync(entry)));
    }

    [Fact]
    public async Task The_reported_cost_can_be_trusted_instead_and_a_negative_balance_blocks_metered_calls()
    {
        var (app, accountId) = await StartAsync(IngestPricing.ReportedCost);
        await using (app)
        {
            var result = await PostAsync(app, Entry("pricey", prompt: 1, completion: 1, cost: 1.2345678901m));
            Assert.Equal((1, 0, 0), Counts(result));
            var credits = app.Services.GetRequiredService<CreditManager>();
            Assert.Equal(Money.FromUnits(1m - 1.234567891m), (await credits.GetBalanceAsync(accountId)).Balance);

            var key = await app.Services.GetRequiredService<ApiKeyManager>().CreateAsync(accountId, "k");
            using var client = app.GetTestClient();
            client.DefaultRequestHeaders.Add("X-API-Key", key.Plaintext);
            Assert.Equal(HttpStatusCode.PaymentRequired, (await client.GetAsync("/x")).StatusCode);
            Assert.Equal((0, 1, 0), Counts(await PostAsync(app, Entry("no-cost", prompt: 1, completion: 1))));
        }
    }

    private CreditManager Credits => _app.Services.GetRequiredService<CreditManager>();

    private static async Task<(WebApplication App, string AccountId)> StartAsync(IngestPricing pricing)
    {
        var builder = WebApplication.CreateBuilder();
        builder.WebHost.UseTestServer();
        builder.Services.AddUsageBilling(o =>
        {
            o.Ingest.Secret = Secret;
            o.Ingest.Pricing = pricing;
            o.Pricing.Models.Add(new ModelPriceOptions { Model = "gpt-4o", Input = 2.5m, Output = 10m, CachedInput = 1.25m });
            o.Pricing.ModelAliases["team-gpt"] = "gpt-4o";
            o.Pricing.PlanMarkupPercent["pro"] = 40m;
            o.UsageLog.FlushInterval = TimeSpan.FromMilliseconds(20);
        });
        var app = builder.Build();
        app.UseAuthentication();
        app.UseAuthorization();
        app.UseUsageBilling();
        app.MapGet("/x", () => "ok").RequireApiKey().WithCost(0m);
        app.MapLiteLlmUsageIngest();
        app.MapUsageBillingSelfService();
        await app.StartAsync();

        var account = await app.Services.GetRequiredService<AccountManager>().CreateAsync("Customer 42", "pro");
        await app.Services.GetRequiredService<CreditManager>().PostAsync(account.Id, LedgerEntryKind.Grant, Money.FromUnits(1m));
        app.Services.GetRequiredService<Microsoft.Extensions.Options.IOptionsMonitor<UsageBillingOptions>>().CurrentValue.Ingest.EndUserAccounts["customer-42"] = account.Id;
        return (app, account.Id);
    }

    private Task<JsonElement> PostAsync(string body) => PostAsync(_app, body);

    private static async Task<JsonElement> PostAsync(WebApplication app, string body)
    {
        using var client = app.GetTestClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Secret);
        var response = await client.PostAsync("/ingest/litellm", Json(body));
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, text);
        return JsonDocument.Parse(text).RootElement.Clone();
    }

    private HttpClient AuthorizedClient()
    {
        var client = _app.GetTestClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Secret);
        return client;
    }

    private async Task<IReadOnlyList<UsageRecord>> WaitForUsageAsync(int count)
    {
        var store = _app.Services.GetRequiredService<IUsageStore>();
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (true)
        {
            var page = await store.QueryAsync(new UsageQuery { AccountId = _accountId });
            if (page.Records.Count >= count || DateTime.UtcNow > deadline)
            {
                return page.Records;
            }

            await Task.Delay(20);
        }
    }

    private static (int Processed, int Skipped, int Duplicates) Counts(JsonElement result)
        => (result.GetProperty("processed").GetInt32(), result.GetProperty("skipped").GetInt32(), result.GetProperty("duplicates").GetInt32());

    private static StringContent Json(string body) => new(body, Encoding.UTF8, "application/json");

    private static string Batch(params string[] entries) => "[" + string.Join(",", entries) + "]";

    /// <summary>A StandardLoggingPayload as LiteLLM posts it (trimmed to the fields that matter, plus some that do not).</summary>
    private static string Entry(string id, long prompt = 100, long completion = 50, long cached = 0, string? model = "team-gpt", string endUser = "customer-42",
        string status = "success", string? runId = null, decimal? cost = null, DateTimeOffset? start = null)
    {
        var payload = new Dictionary<string, object?>
        {
            ["id"] = id,
            ["call_type"] = "acompletion",
            ["status"] = status,
            ["model"] = "azure/gpt-4o-2024-08-06",
            ["model_group"] = model,
            ["prompt_tokens"] = prompt,
            ["completion_tokens"] = completion,
            ["total_tokens"] = prompt + completion,
            ["prompt_tokens_details"] = new { cached_tokens = cached },
            ["response_cost"] = cost,
            ["startTime"] = start is { } s ? s.ToUnixTimeMilliseconds() / 1000.0 : 1795251600.0,
            ["endTime"] = start is { } e ? (e.ToUnixTimeMilliseconds() + 1500) / 1000.0 : 1795251601.5,
            ["end_user"] = endUser,
        };
        if (model is null)
        {
            payload.Remove("model");
            payload.Remove("model_group");
        }

        var json = JsonSerializer.Serialize(payload);
        var metadata = $"\"metadata\": {{ \"user_api_key_alias\": \"team-key\", \"user_api_key_hash\": \"abc123\", \"spend_logs_metadata\": {(runId is null ? "null" : $"{{ \"run_id\": \"{runId}\" }}")} }}";
        return json[..^1] + ", " + metadata + "}";
    }
}
