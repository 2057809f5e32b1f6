using System.Net;
using System.Net.Http.Headers;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;

namespace UsageBilling.Tests.Integration;

/// <summary>Requests an attacker would send to metered LLM endpoints: never a 500, never a charge for a refusal.</summary>
public sealed class HostileInputTests : IAsyncLifetime
{
    private WebApplication _app = null!;

    public async Task InitializeAsync()
    {
        var builder = WebApplication.CreateBuilder();
        builder.WebHost.UseTestServer();
        builder.Logging.ClearProviders();
        builder.Services.AddUsageBilling(o =>
        {
            o.Keys.Prefix = "sk-test-";
            o.Pricing.Models.Add(new ModelPriceOptions { Model = "gpt-4o", Input = 2.5m, Output = 10m });
            o.Pricing.Models.Add(new ModelPriceOptions { Model = "claude-sonnet-4-5", Input = 3m, Output = 15m });
            o.Pricing.Models.Add(new ModelPriceOptions { Model = "gold", Input = 1m, Output = 200_000_000m });
        });
        _app = builder.Build();
        _app.UseUsageBilling();
        foreach (var path in new[] { "/v1/chat/completions", "/v1/responses", "/v1/messages" })
        {
            _app.MapPost(path, () => Results.Json(new { ok = true })).RequireApiKey().MeterLlmUsage();
        }

        await _app.StartAsync();
    }

    public async Task DisposeAsync() => await _app.DisposeAsync();

    [Theory]
    [InlineData("/v1/chat/completions", """{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"max_tokens":9223372036854775807}""")]
    [InlineData("/v1/chat/completions", """{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"max_completion_tokens":9223372036854775807}""")]
    [InlineData("/v1/responses", """{"model":"gpt-4o","input":"hi","max_output_tokens":9223372036854775807}""")]
    [InlineData("/v1/messages", """{"model":"claude-sonnet-4-5","messages":[{"role":"user","content":"hi"}],"max_tokens":9223372036854775807}""")]
    [InlineData("/v1/chat/completions", """{"model":"gold","messages":[{"role":"user","content":"hi"}],"max_tokens":10000000}""")]
    public async Task Requests_whose_cost_could_overflow_get_400_and_cost_nothing(string path, string body)
    {
        var (account, client) = await CustomerAsync(100m);

        var response = await client.PostAsync(path, Json(body));

        var problem = await MeteredApiFactory.ReadProblemAsync(response, 400, ProblemTypes.InvalidLlmRequest);
        Assert.Contains("10000000", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal(new CreditBalance(Money.FromUnits(100m), Money.Zero), await BalanceAsync(account));
    }

    [Theory]
    [InlineData("/v1/chat/completions", """{"model":"gpt-4o","messages":[{"role":"user","content":"\u0000\ud800"}]}""")]
    [InlineData("/v1/chat/completions", """{"model":"gpt-4o","messages":[{"role":"user","content":[{"type":"text","text":"\udfff\ud800x"}]}]}""")]
    [InlineData("/v1/responses", """{"model":"gpt-4o","input":"\ud800","instructions":"\u0000"}""")]
    [InlineData("/v1/messages", """{"model":"claude-sonnet-4-5","system":"\ud800","messages":[{"role":"user","content":"\u0000\ud800"}],"max_tokens":5}""")]
    public async Task Lone_surrogates_and_nuls_in_the_text_are_billed_not_500(string path, string body)
    {
        var (account, client) = await CustomerAsync(1m);

        var response = await client.PostAsync(path, Json(body));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var balance = await BalanceAsync(account);
        Assert.True(balance.Balance < Money.FromUnits(1m), "the call was charged");
        Assert.Equal(Money.Zero, balance.Reserved);
    }

    [Fact]
    public async Task One_mebibyte_of_one_character_is_priced_quickly_and_billed()
    {
        var (account, client) = await CustomerAsync(100m);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));

        var response = await client.PostAsync("/v1/chat/completions",
            Json($$"""{"model":"gpt-4o","messages":[{"role":"user","content":"{{new string('x', 1024 * 1024)}}"}],"max_tokens":10}"""), timeout.Token);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        // Counted by its byte length (an upper bound): 1 MiB of input tokens at 2.5 per million, plus 10 output tokens at 10.
        var charged = Money.FromUnits(100m) - (await BalanceAsync(account)).Balance;
        Assert.True(charged >= Money.FromUnits(1024 * 1024 * 2.5m / 1_000_000m), $"charged {charged}");
    }

    [Fact]
    public async Task Unknown_model_names_in_metrics_are_bounded_and_normalized()
    {
        var metrics = _app.Services.GetRequiredService<UsageBillingMetrics>();
        using var collector = new MetricCollector<long>(_app.Services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>(),
            UsageBillingMetrics.MeterName, "usagebilling.llm.unknown_models");

        metrics.UnknownModel("Evil\u0000Model", UnknownModelPolicy.Reject);
        for (var i = 0; i < 1000; i++)
        {
            metrics.UnknownModel($"random-{i}", UnknownModelPolicy.Reject);
        }

        var tags = collector.GetMeasurementSnapshot().Select(m => (string)m.Tags["usagebilling.model"]!).ToList();
        Assert.Equal(1001, tags.Count);
        Assert.Equal("evil\uFFFDmodel", tags[0]);
        Assert.Equal(UsageBillingMetrics.MaxModelTagValues + 1, tags.Distinct().Count());
        Assert.Equal(UsageBillingMetrics.OtherModel, tags[^1]);
    }

    private async Task<(string AccountId, HttpClient Client)> CustomerAsync(decimal credits)
    {
        var account = await _app.Services.GetRequiredService<AccountManager>().CreateAsync("Test", null);
        await _app.Services.GetRequiredService<CreditManager>().PostAsync(account.Id, LedgerEntryKind.Grant, Money.FromUnits(credits));
        var key = await _app.Services.GetRequiredService<ApiKeyManager>().CreateAsync(account.Id, "test");
        var client = _app.GetTestClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key.Plaintext);
        return (account.Id, client);
    }

    private Task<CreditBalance> BalanceAsync(string account)
        => _app.Services.GetRequiredService<CreditManager>().GetBalanceAsync(account).AsTask();

    private static StringContent Json(string body) => new(body, Encoding.UTF8, "application/json");
}
