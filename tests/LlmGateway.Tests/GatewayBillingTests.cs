using System.ClientModel;
using System.ClientModel.Primitives;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using OpenAI;
using OpenAI.Chat;

namespace LlmGateway.Tests;

/// <summary>Calls the gateway with the official OpenAI .NET SDK and checks every balance to the nano-unit.</summary>
public sealed class GatewayBillingTests : IDisposable
{
    // gpt-4o-mini in prices.json: 0.15 input, 0.075 cached input, 0.6 output per million tokens.
    private const decimal MiniInput = 0.15m;
    private const decimal MiniOutput = 0.6m;

    private readonly GatewayFactory _factory = new();

    public void Dispose() => _factory.Dispose();

    [Fact]
    public async Task A_plain_completion_is_charged_exactly_its_reported_usage()
    {
        var (accountId, key) = await _factory.CreateCustomerAsync(credits: 1m);
        var client = ChatClient("gpt-4o-mini", key);

        ChatCompletion completion = await client.CompleteChatAsync([new UserChatMessage("Tell me about billing")], new ChatCompletionOptions { MaxOutputTokenCount = 30 });

        Assert.True(completion.Usage.OutputTokenCount > 0);
        var expected = Cost(completion.Usage.InputTokenCount, completion.Usage.OutputTokenCount, MiniInput, MiniOutput);
        Assert.Equal((1m - expected, 0m), await _factory.GetBalanceAsync(accountId));
        var record = Assert.Single(await _factory.WaitForUsageAsync(accountId, 1));
        Assert.Equal("gpt-4o-mini", record.GetProperty("model").GetString());
        Assert.Equal(completion.Usage.InputTokenCount, record.GetProperty("inputTokens").GetInt64());
        Assert.Equal(completion.Usage.OutputTokenCount, record.GetProperty("outputTokens").GetInt64());
        Assert.False(record.GetProperty("tokensEstimated").GetBoolean());
        Assert.False(record.GetProperty("streamed").GetBoolean());
        Assert.Equal(expected, record.GetProperty("cost").GetDecimal());

        // The record explains the cost per dimension.
        using var breakdown = JsonDocument.Parse(record.GetProperty("costBreakdown").GetString()!);
        Assert.Equal(expected, breakdown.RootElement.GetProperty("total").GetDecimal());
        Assert.Equal(
            [("input", (long)completion.Usage.InputTokenCount), ("output", (long)completion.Usage.OutputTokenCount)],
            breakdown.RootElement.GetProperty("lines").EnumerateArray().Select(l => (l.GetProperty("dimension").GetString(), l.GetProperty("quantity").GetInt64())));
    }

    [Fact]
    public async Task A_streamed_completion_is_charged_the_usage_of_its_final_chunk()
    {
        var (accountId, key) = await _factory.CreateCustomerAsync(credits: 1m);
        var client = ChatClient("openai/gpt-4o-mini-2024-07-18", key);

        var text = new StringBuilder();
        ChatTokenUsage? usage = null;
        await foreach (var update in client.CompleteChatStreamingAsync([new UserChatMessage("Stream it")], new ChatCompletionOptions { MaxOutputTokenCount = 25 }))
        {
            foreach (var part in update.ContentUpdate)
            {
                text.Append(part.Text);
            }

            usage = update.Usage ?? usage;
        }

        Assert.NotNull(usage);
        Assert.NotEmpty(text.ToString());
        var expected = Cost(usage.InputTokenCount, usage.OutputTokenCount, MiniInput, MiniOutput);
        Assert.Equal((1m - expected, 0m), await _factory.GetBalanceAsync(accountId));
        var record = Assert.Single(await _factory.WaitForUsageAsync(accountId, 1));
        Assert.True(record.GetProperty("streamed").GetBoolean());
        Assert.False(record.GetProperty("tokensEstimated").GetBoolean());
    }

    [Fact]
    public async Task A_stream_without_usage_is_charged_an_estimate_from_the_tokenizer_and_marked_estimated()
    {
        var (accountId, key) = await _factory.CreateCustomerAsync(credits: 1m);
        using var http = KeyClient(key);

        var response = await http.PostAsJsonAsync("/v1/chat/completions", new
        {
            model = "gpt-4o-mini", stream = true, max_tokens = 20,
            messages = new[] { new { role = "user", content = "No usage please" } },
        });
        var body = await response.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.DoesNotContain("\"usage\"", body, StringComparison.Ordinal);

        var (balance, reserved) = await _factory.GetBalanceAsync(accountId);
        Assert.Equal(0m, reserved);
        Assert.True(balance < 1m, "an unreported stream is still charged");
        var record = Assert.Single(await _factory.WaitForUsageAsync(accountId, 1));
        Assert.True(record.GetProperty("tokensEstimated").GetBoolean());
        var output = record.GetProperty("outputTokens").GetInt64();
        Assert.InRange(output, 1, 20);
        Assert.Equal(Cost(record.GetProperty("inputTokens").GetInt64(), output, MiniInput, MiniOutput), 1m - balance);
    }

    [Fact]
    public async Task Anthropic_messages_are_charged_from_message_start_and_message_delta()
    {
        var (accountId, key) = await _factory.CreateCustomerAsync(credits: 1m);
        using var http = KeyClient(key);

        var response = await http.PostAsJsonAsync("/v1/messages", new
        {
            model = "sonnet", stream = true, max_tokens = 12, system = "Be terse.",
            messages = new[] { new { role = "user", content = "Hello" } },
        });
        var body = await response.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);

        var events = body.Split('\n').Where(l => l.StartsWith("data: ", StringComparison.Ordinal)).Select(l => JsonDocument.Parse(l[6..]).RootElement).ToList();
        var input = events.Single(e => e.GetProperty("type").GetString() == "message_start").GetProperty("message").GetProperty("usage").GetProperty("input_tokens").GetInt64();
        var output = events.Single(e => e.GetProperty("type").GetString() == "message_delta").GetProperty("usage").GetProperty("output_tokens").GetInt64();
        // claude-sonnet-4-5: 3 input, 15 output per million.
        Assert.Equal((1m - Cost(input, output, 3m, 15m), 0m), await _factory.GetBalanceAsync(accountId));
    }

    [Fact]
    public async Task The_plan_markup_is_applied_exactly()
    {
        var (accountId, key) = await _factory.CreateCustomerAsync(credits: 1m, plan: "pro");
        ChatCompletion completion = await ChatClient("gpt-4o-mini", key).CompleteChatAsync([new UserChatMessage("Markup")], new ChatCompletionOptions { MaxOutputTokenCount = 10 });

        var nanos = (completion.Usage.InputTokenCount * MiniInput + completion.Usage.OutputTokenCount * MiniOutput) * 1000m * 1.4m;
        var expected = Math.Ceiling(nanos) / 1_000_000_000m;
        Assert.Equal((1m - expected, 0m), await _factory.GetBalanceAsync(accountId));
    }

    [Fact]
    public async Task An_unknown_model_is_refused_with_400_naming_it_and_nothing_is_reserved()
    {
        var (accountId, key) = await _factory.CreateCustomerAsync(credits: 1m);
        var error = await Assert.ThrowsAsync<ClientResultException>(() => ChatClient("gpt-9-ultra", key).CompleteChatAsync([new UserChatMessage("hi")]));

        Assert.Equal(400, error.Status);
        var problem = JsonDocument.Parse(error.GetRawResponse()!.Content.ToString()).RootElement.GetProperty("error");
        Assert.Equal("urn:usagebilling:problem:unknown-model", problem.GetProperty("code").GetString());
        Assert.Equal("model", problem.GetProperty("param").GetString());
        Assert.Contains("gpt-9-ultra", problem.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Equal((1m, 0m), await _factory.GetBalanceAsync(accountId));
    }

    [Theory]
    [InlineData("{\"model\": \"gpt-4o-mini\", \"messages\": ")]
    [InlineData("{\"messages\": []}")]
    [InlineData("{\"model\": \"gpt-4o-mini\", \"messages\": [], \"max_tokens\": -5}")]
    public async Task Malformed_requests_are_400_and_reserve_nothing(string body)
    {
        var (accountId, key) = await _factory.CreateCustomerAsync(credits: 1m);
        using var http = KeyClient(key);
        using var content = new StringContent(body, Encoding.UTF8, "application/json");

        var response = await http.PostAsync("/v1/chat/completions", content);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var error = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("error");
        Assert.Equal(("invalid_request_error", "urn:usagebilling:problem:invalid-llm-request"), (error.GetProperty("type").GetString(), error.GetProperty("code").GetString()));
        Assert.Equal((1m, 0m), await _factory.GetBalanceAsync(accountId));
    }

    [Fact]
    public async Task Without_enough_credit_for_the_largest_allowed_output_the_call_gets_402()
    {
        var (accountId, key) = await _factory.CreateCustomerAsync(credits: 0.0001m);
        var error = await Assert.ThrowsAsync<ClientResultException>(() =>
            ChatClient("gpt-4o-mini", key).CompleteChatAsync([new UserChatMessage("hi")], new ChatCompletionOptions { MaxOutputTokenCount = 100_000 }));

        Assert.Equal(402, error.Status);
        Assert.Equal((0.0001m, 0m), await _factory.GetBalanceAsync(accountId));
    }

    [Fact]
    public async Task A_client_that_disconnects_mid_stream_is_billed_for_what_it_received_and_the_hold_is_released()
    {
        using var slow = new GatewayFactory(new Dictionary<string, string?> { ["Gateway:Simulator:ChunkDelayMs"] = "100" });
        var (accountId, key) = await slow.CreateCustomerAsync(credits: 1m);
        using var http = slow.CreateClient();
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions")
        {
            Content = JsonContent.Create(new
            {
                model = "gpt-4o-mini", stream = true, stream_options = new { include_usage = true }, max_tokens = 500,
                messages = new[] { new { role = "user", content = "A long answer please" } },
            }),
        };

        var received = new StringBuilder();
        using (var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
            var chunks = 0;
            while (chunks < 4 && await reader.ReadLineAsync() is { } line)
            {
                if (line.StartsWith("data: ", StringComparison.Ordinal))
                {
                    var delta = JsonDocument.Parse(line[6..]).RootElement.GetProperty("choices")[0].GetProperty("delta");
                    if (delta.TryGetProperty("content", out var content))
                    {
                        received.Append(content.GetString());
                    }

                    chunks++;
                }
            }
        }

        // Disposing the response mid-stream closes the connection: the gateway sees the client go away.
        var (balance, reserved) = await slow.WaitForSettledAsync(accountId);
        Assert.Equal(0m, reserved);
        var record = Assert.Single(await slow.WaitForUsageAsync(accountId, 1));
        Assert.True(record.GetProperty("clientAborted").GetBoolean(), record.ToString());
        Assert.True(record.GetProperty("tokensEstimated").GetBoolean(), record.ToString());
        var output = record.GetProperty("outputTokens").GetInt64();
        Assert.InRange(output, Math.Max(1, received.ToString().Split(' ', StringSplitOptions.RemoveEmptyEntries).Length - 1), 39);
        Assert.Equal(Cost(record.GetProperty("inputTokens").GetInt64(), output, MiniInput, MiniOutput), 1m - balance);
        Assert.Equal(balance, await slow.GetLedgerSumAsync(accountId));
    }

    [Fact]
    public async Task Two_hundred_concurrent_streams_never_reserve_more_than_the_balance_or_overdraw_it()
    {
        var (accountId, key) = await _factory.CreateCustomerAsync(credits: 0m);
        using var http = KeyClient(key);
        object Body() => new
        {
            model = "sim-1", stream = true, stream_options = new { include_usage = true }, max_tokens = 200,
            messages = new[] { new { role = "user", content = "Count to ten" } },
        };

        // An empty account is told what one call needs.
        var probe = await http.PostAsJsonAsync("/v1/chat/completions", Body());
        Assert.Equal(HttpStatusCode.PaymentRequired, probe.StatusCode);
        var perCall = JsonDocument.Parse(await probe.Content.ReadAsStringAsync()).RootElement.GetProperty("error").GetProperty("required").GetDecimal();
        await _factory.GrantAsync(accountId, perCall * 20);

        var maxReserved = 0m;
        using var stop = new CancellationTokenSource();
        var watcher = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                var (_, reserved) = await _factory.GetBalanceAsync(accountId);
                maxReserved = Math.Max(maxReserved, reserved);
            }
        });

        var responses = await Task.WhenAll(Enumerable.Range(0, 200).Select(async _ =>
        {
            var response = await http.PostAsJsonAsync("/v1/chat/completions", Body());
            await response.Content.ReadAsStringAsync();
            return response.StatusCode;
        }));
        await stop.CancelAsync();
        await watcher;

        Assert.All(responses, s => Assert.Contains(s, new[] { HttpStatusCode.OK, HttpStatusCode.PaymentRequired }));
        Assert.InRange(responses.Count(s => s == HttpStatusCode.OK), 20, 200);
        Assert.True(maxReserved <= perCall * 20, $"reserved {maxReserved} at once, more than the balance {perCall * 20}");
        var (balance, reservedAtEnd) = await _factory.GetBalanceAsync(accountId);
        Assert.Equal(0m, reservedAtEnd);
        Assert.True(balance >= 0m, $"balance went negative: {balance}");
        Assert.Equal(balance, await _factory.GetLedgerSumAsync(accountId));
    }

    [Fact]
    public async Task A_tokens_per_minute_limit_counts_the_estimate_and_corrects_it_at_settle()
    {
        var (_, key) = await _factory.CreateCustomerAsync(credits: 1m, limits: new { tokensPerMinute = 500 });
        using var http = KeyClient(key);
        object Body(int max) => new { model = "sim-1", max_tokens = max, messages = new[] { new { role = "user", content = "hi" } } };

        var first = await http.PostAsJsonAsync("/v1/chat/completions", Body(480));
        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.Equal("500", first.Headers.GetValues("X-RateLimit-Limit-Tokens").Single());
        var remainingAfterEstimate = long.Parse(first.Headers.GetValues("X-RateLimit-Remaining-Tokens").Single(), System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(remainingAfterEstimate, 0, 20);

        // The first call used far fewer tokens than it reserved, so a small call fits again...
        var small = await http.PostAsJsonAsync("/v1/chat/completions", Body(100));
        Assert.Equal(HttpStatusCode.OK, small.StatusCode);
        // ...but another large estimate does not.
        var refused = await http.PostAsJsonAsync("/v1/chat/completions", Body(480));
        Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
        Assert.Contains("tokens-minute", await refused.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_price_set_through_the_admin_api_applies_to_the_next_call_without_a_restart()
    {
        var (accountId, key) = await _factory.CreateCustomerAsync(credits: 1m);
        var client = ChatClient("brand-new-model", key);
        var refused = await Assert.ThrowsAsync<ClientResultException>(() => client.CompleteChatAsync([new UserChatMessage("hi")]));
        Assert.Equal(400, refused.Status);

        using var admin = _factory.CreateAdminClient();
        var set = await admin.PutAsJsonAsync("/admin/billing/pricing/models/brand-new-model", new { input = 1m, output = 2m });
        Assert.Equal(HttpStatusCode.OK, set.StatusCode);
        var later = await admin.PutAsJsonAsync("/admin/billing/pricing/models/brand-new-model", new { input = 100m, output = 200m, effectiveFrom = DateTimeOffset.UtcNow.AddDays(1) });
        Assert.Equal(HttpStatusCode.OK, later.StatusCode);

        ChatCompletion completion = await client.CompleteChatAsync([new UserChatMessage("hi")], new ChatCompletionOptions { MaxOutputTokenCount = 10 });
        Assert.Equal((1m - Cost(completion.Usage.InputTokenCount, completion.Usage.OutputTokenCount, 1m, 2m), 0m), await _factory.GetBalanceAsync(accountId));

        var prices = await GatewayFactory.ReadJsonAsync(await admin.GetAsync("/admin/billing/pricing/models"));
        var versions = prices.EnumerateArray().Where(p => p.GetProperty("model").GetString() == "brand-new-model").ToList();
        Assert.Equal(2, versions.Count);
        Assert.Equal([true, false], versions.Select(v => v.GetProperty("current").GetBoolean()));
        await Assert.ThrowsAsync<HttpRequestException>(async () => (await admin.PutAsJsonAsync("/admin/billing/pricing/models/x", new { input = -1m, output = 1m })).EnsureSuccessStatusCode());
    }

    [Fact]
    public async Task The_model_list_shows_priced_models()
    {
        var (_, key) = await _factory.CreateCustomerAsync(credits: 0m);
        using var http = KeyClient(key);
        var models = await GatewayFactory.ReadJsonAsync(await http.GetAsync("/v1/models"));
        var ids = models.GetProperty("data").EnumerateArray().Select(m => m.GetProperty("id").GetString()).ToList();
        Assert.Contains("gpt-4o-mini", ids);
        Assert.Contains("claude-sonnet-4-5", ids);
        Assert.Contains("sim-1", ids);
    }

    [Fact]
    public async Task A_plan_sees_and_may_call_only_its_models()
    {
        var (accountId, key) = await _factory.CreateCustomerAsync(credits: 1m, plan: "starter");
        using var http = KeyClient(key);
        var models = await GatewayFactory.ReadJsonAsync(await http.GetAsync("/v1/models"));
        Assert.Equal(["claude-3-5-haiku", "gpt-4o-mini", "sim-1"], models.GetProperty("data").EnumerateArray().Select(m => m.GetProperty("id").GetString()));

        var refused = await Assert.ThrowsAsync<ClientResultException>(() => ChatClient("openai/gpt-4o-2024-08-06", key).CompleteChatAsync([new UserChatMessage("hi")]));
        Assert.Equal(403, refused.Status);
        Assert.Contains("model-not-in-plan", refused.GetRawResponse()!.Content.ToString(), StringComparison.Ordinal);
        Assert.Equal((1m, 0m), await _factory.GetBalanceAsync(accountId));
        ChatCompletion allowed = await ChatClient("gpt-4o-mini", key).CompleteChatAsync([new UserChatMessage("hi")], new ChatCompletionOptions { MaxOutputTokenCount = 5 });
        Assert.True(allowed.Usage.OutputTokenCount > 0);
    }

    [Fact]
    public async Task A_power_level_multiplies_the_price_exactly()
    {
        var (accountId, key) = await _factory.CreateCustomerAsync(credits: 1m, plan: "pro");
        using var http = KeyClient(key);
        http.DefaultRequestHeaders.Add("X-Power-Level", "eco");

        var response = await http.PostAsJsonAsync("/v1/chat/completions", new { model = "gpt-4o-mini", max_tokens = 10, messages = new[] { new { role = "user", content = "cheap please" } } });
        var usage = (await GatewayFactory.ReadJsonAsync(response)).GetProperty("usage");
        var nanos = (usage.GetProperty("prompt_tokens").GetInt64() * MiniInput + usage.GetProperty("completion_tokens").GetInt64() * MiniOutput) * 1000m * 1.4m * 0.1m;
        Assert.Equal((1m - Math.Ceiling(nanos) / 1_000_000_000m, 0m), await _factory.GetBalanceAsync(accountId));

        http.DefaultRequestHeaders.Remove("X-Power-Level");
        http.DefaultRequestHeaders.Add("X-Power-Level", "turbo");
        var unknown = await http.PostAsJsonAsync("/v1/chat/completions", new { model = "gpt-4o-mini", messages = new[] { new { role = "user", content = "x" } } });
        Assert.Equal(HttpStatusCode.BadRequest, unknown.StatusCode);
        Assert.Contains("unknown-multiplier", await unknown.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    private ChatClient ChatClient(string model, string key)
        => new(model, new ApiKeyCredential(key), _factory.OpenAIOptions());

    private HttpClient KeyClient(string key) => _factory.CreateKeyClient(key);

    /// <summary>Tokens at per-million prices, rounded up to a nano-unit, as UsageBilling charges.</summary>
    private static decimal Cost(long input, long output, decimal inputPerMillion, decimal outputPerMillion)
        => Math.Ceiling((input * inputPerMillion + output * outputPerMillion) * 1000m) / 1_000_000_000m;
}
