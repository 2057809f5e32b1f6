using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace UsageBilling.Tests.Integration;

/// <summary>
/// LiteLLM's own test payload (Fixtures/litellm_standard_logging_payload.json, with <c>"end_user": ""</c>) billed to the
/// account its fields name, in the order the operator sets; cache tokens read from LiteLLM's usage object.
/// </summary>
public sealed class LiteLlmAccountResolutionTests : IAsyncLifetime
{
    private const string Secret = "litellm-callback-secret-0123456789abcdef";
    private static readonly string Fixture = Path.Combine(AppContext.BaseDirectory, "Integration", "Fixtures", "litellm_standard_logging_payload.json");
    private WebApplication _app = null!;
    private string _accountId = null!;
    private string _otherAccountId = null!;

    public async Task InitializeAsync()
    {
        var builder = WebApplication.CreateBuilder();
        builder.WebHost.UseTestServer();
        builder.Services.AddUsageBilling(o =>
        {
            o.Ingest.Secret = Secret;
            o.Pricing.Models.Add(new ModelPriceOptions { Model = "gpt-4o", Input = 2.5m, Output = 10m, CachedInput = 1.25m });
            o.Pricing.Models.Add(new ModelPriceOptions { Model = "claude-sonnet-4-5", Input = 3m, Output = 15m, CachedInput = 0.3m });
            o.UsageLog.FlushInterval = TimeSpan.FromMilliseconds(20);
        });
        _app = builder.Build();
        _app.MapLiteLlmUsageIngest();
        await _app.StartAsync();
        var accounts = _app.Services.GetRequiredService<AccountManager>();
        _accountId = (await accounts.CreateAsync("Acme", "free")).Id;
        _otherAccountId = (await accounts.CreateAsync("Fallback", "free")).Id;
        foreach (var id in new[] { _accountId, _otherAccountId })
        {
            await _app.Services.GetRequiredService<CreditManager>().PostAsync(id, LedgerEntryKind.Grant, Money.FromUnits(1m));
        }
    }

    public async Task DisposeAsync() => await _app.DisposeAsync();

    private IngestOptions Ingest => _app.Services.GetRequiredService<IOptionsMonitor<UsageBillingOptions>>().CurrentValue.Ingest;

    [Fact]
    public async Task The_real_payload_with_an_empty_end_user_is_billed_to_the_account_its_key_alias_maps_to()
    {
        Ingest.AccountFrom.Add(IngestAccountSources.EndUser);
        Ingest.AccountFrom.Add(IngestAccountSources.KeyAlias);
        Ingest.AccountMaps[IngestAccountSources.KeyAlias] = new Dictionary<string, string> { ["acme-prod"] = _accountId };

        var result = await PostAsync(Payload(p => p["metadata"]!["user_api_key_alias"] = "acme-prod"));

        Assert.Equal(1, result.GetProperty("processed").GetInt32());
        // gpt-4o: 10 input × 2.5 + 20 output × 10 per million = 0.000225, as LiteLLM's response_cost says.
        Assert.Equal(Money.FromUnits(1m - 0.000225m), await BalanceAsync(_accountId));
        Assert.Equal(Money.FromUnits(1m), await BalanceAsync(_otherAccountId));
    }

    [Fact]
    public async Task Sources_are_tried_in_the_operators_order_and_tags_and_team_ids_resolve_too()
    {
        Ingest.AccountFrom.Add(IngestAccountSources.TeamId);
        Ingest.AccountFrom.Add(IngestAccountSources.RequestTags);
        Ingest.AccountMaps[IngestAccountSources.RequestTags] = new Dictionary<string, string> { ["customer:fallback"] = _otherAccountId };

        // The team id is an account id itself; it comes first.
        await PostAsync(Payload(p => { p["id"] = "call-team"; p["metadata"]!["user_api_key_team_id"] = _accountId; p["request_tags"] = new JsonArray("customer:fallback"); }));
        Assert.Equal(Money.FromUnits(1m - 0.000225m), await BalanceAsync(_accountId));

        // No team: the second tag maps to the other account.
        await PostAsync(Payload(p => { p["id"] = "call-tag"; p["request_tags"] = new JsonArray("prod", "customer:fallback"); }));
        Assert.Equal(Money.FromUnits(1m - 0.000225m), await BalanceAsync(_otherAccountId));
    }

    [Fact]
    public async Task Without_a_source_the_entry_is_skipped_with_its_id_or_billed_to_the_default_account()
    {
        var skipped = await PostAsync(Payload(_ => { }));
        var entry = Assert.Single(skipped.GetProperty("skippedEntries").EnumerateArray());
        Assert.Equal("chatcmpl-2299b6a2-82a3-465a-b47c-04e685a2227f", entry.GetProperty("id").GetString());
        Assert.Contains("end_user=", entry.GetProperty("reason").GetString(), StringComparison.Ordinal);

        Ingest.DefaultAccountId = _otherAccountId;
        Assert.Equal(1, (await PostAsync(Payload(_ => { }))).GetProperty("processed").GetInt32());
        Assert.Equal(Money.FromUnits(1m - 0.000225m), await BalanceAsync(_otherAccountId));
    }

    [Fact]
    public async Task A_failed_call_is_skipped_with_its_id()
    {
        var result = await PostAsync(Payload(p => p["status"] = "failure"));
        var entry = Assert.Single(result.GetProperty("skippedEntries").EnumerateArray());
        Assert.Equal(("chatcmpl-2299b6a2-82a3-465a-b47c-04e685a2227f", "status is 'failure', not 'success'"), (entry.GetProperty("id").GetString(), entry.GetProperty("reason").GetString()));
    }

    [Fact]
    public async Task Cache_reads_and_writes_come_from_LiteLLMs_usage_object_and_writes_cost_1_25x()
    {
        Ingest.DefaultAccountId = _accountId;
        // LiteLLM's usage object for an Anthropic call: prompt_tokens counts cache reads and writes.
        var body = Payload(p =>
        {
            p["model"] = "claude-sonnet-4-5";
            p["prompt_tokens"] = 2100;
            p["completion_tokens"] = 100;
            p["metadata"]!["usage_object"] = JsonNode.Parse("""
                {"prompt_tokens":2100,"completion_tokens":100,"total_tokens":2200,
                 "prompt_tokens_details":{"cached_tokens":1000,"cache_creation_tokens":1000},
                 "cache_creation_input_tokens":1000,"cache_read_input_tokens":1000}
                """);
        });

        await PostAsync(body);

        // 100 input × 3 + 1000 cached × 0.30 + 1000 written × 3.75 + 100 output × 15 = 5,850 per million
        Assert.Equal(Money.FromUnits(1m - 0.00585m), await BalanceAsync(_accountId));
        var record = await WaitForRecordAsync(_accountId);
        Assert.Equal((1100L, 1000L, 100L), (record.InputTokens, record.CachedInputTokens, record.OutputTokens));
        Assert.Contains("\"cache_write_5m\"", record.CostBreakdown, StringComparison.Ordinal);
    }

    private static string Payload(Action<JsonNode> edit)
    {
        var payload = JsonNode.Parse(File.ReadAllText(Fixture))!;
        edit(payload);
        return payload.ToJsonString();
    }

    private async Task<JsonElement> PostAsync(string body)
    {
        using var client = _app.GetTestClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Secret);
        var response = await client.PostAsync("/ingest/litellm", new StringContent(body, Encoding.UTF8, "application/json"));
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, text);
        return JsonDocument.Parse(text).RootElement.Clone();
    }

    private async Task<Money> BalanceAsync(string accountId) => (await _app.Services.GetRequiredService<CreditManager>().GetBalanceAsync(accountId)).Balance;

    private async Task<UsageRecord> WaitForRecordAsync(string accountId)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (true)
        {
            var page = await _app.Services.GetRequiredService<IUsageStore>().QueryAsync(new UsageQuery { AccountId = accountId });
            if (page.Records.Count > 0 || DateTime.UtcNow > deadline)
            {
                return Assert.Single(page.Records);
            }

            await Task.Delay(20);
        }
    }
}
