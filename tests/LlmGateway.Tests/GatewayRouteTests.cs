using System.ClientModel;
using System.ClientModel.Primitives;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using OpenAI;
using OpenAI.Chat;
using OpenAI.Embeddings;

namespace LlmGateway.Tests;

/// <summary>Every route the SDKs call, on the simulated model: Responses, embeddings, count_tokens, tool calls, the LiteLLM ingest.</summary>
public sealed class GatewayRouteTests : IDisposable
{
    private const string IngestSecret = "gateway-test-ingest-secret-0123456789";

    private readonly GatewayFactory _factory = new(new Dictionary<string, string?> { ["UsageBilling:Ingest:Secret"] = IngestSecret });

    public void Dispose() => _factory.Dispose();

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Responses_are_served_and_billed_their_usage(bool stream)
    {
        var (accountId, key) = await _factory.CreateCustomerAsync(credits: 1m);
        using var http = KeyClient(key);

        var response = await http.PostAsJsonAsync("/v1/responses", new { model = "gpt-4.1", input = "Tell me about billing", max_output_tokens = 30, stream });

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var usage = stream ? LastEvent(await response.Content.ReadAsStringAsync(), "response.completed").GetProperty("response").GetProperty("usage")
            : (await GatewayFactory.ReadJsonAsync(response)).GetProperty("usage");
        // gpt-4.1 in prices.json: 2 input, 8 output per million.
        var expected = Cost(usage.GetProperty("input_tokens").GetInt64(), usage.GetProperty("output_tokens").GetInt64(), 2m, 8m);
        Assert.True(usage.GetProperty("output_tokens").GetInt64() > 0);
        Assert.Equal((1m - expected, 0m), await _factory.GetBalanceAsync(accountId));
        var record = Assert.Single(await _factory.WaitForUsageAsync(accountId, 1));
        Assert.Equal((stream, false), (record.GetProperty("streamed").GetBoolean(), record.GetProperty("tokensEstimated").GetBoolean()));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Responses_with_tools_answer_a_function_call_billed_as_output(bool stream)
    {
        var (accountId, key) = await _factory.CreateCustomerAsync(credits: 1m);
        using var http = KeyClient(key);
        var tools = new[] { new { type = "function", name = "get_weather", parameters = new { type = "object", properties = new { query = new { type = "string" } } } } };

        var response = await http.PostAsJsonAsync("/v1/responses", new { model = "gpt-4.1", input = "Weather in Oslo?", tools, stream });

        var completed = stream ? LastEvent(await response.Content.ReadAsStringAsync(), "response.completed").GetProperty("response") : await GatewayFactory.ReadJsonAsync(response);
        var call = Assert.Single(completed.GetProperty("output").EnumerateArray());
        Assert.Equal(("function_call", "get_weather"), (call.GetProperty("type").GetString(), call.GetProperty("name").GetString()));
        Assert.Equal("Weather in Oslo?", JsonDocument.Parse(call.GetProperty("arguments").GetString()!).RootElement.GetProperty("query").GetString());
        var usage = completed.GetProperty("usage");
        Assert.Equal((1m - Cost(usage.GetProperty("input_tokens").GetInt64(), usage.GetProperty("output_tokens").GetInt64(), 2m, 8m), 0m), await _factory.GetBalanceAsync(accountId));
    }

    [Fact]
    public async Task The_OpenAI_SDK_gets_tool_calls_with_usage_and_pays_for_them()
    {
        var (accountId, key) = await _factory.CreateCustomerAsync(credits: 1m);
        var client = new ChatClient("gpt-4o-mini", new ApiKeyCredential(key), Options());
        var options = new ChatCompletionOptions { Tools = { ChatTool.CreateFunctionTool("get_weather", "The weather", BinaryData.FromString("""{"type":"object","properties":{"query":{"type":"string"}}}""")) } };

        ChatCompletion completion = await client.CompleteChatAsync([new UserChatMessage("Weather in Oslo?")], options);

        Assert.Equal(ChatFinishReason.ToolCalls, completion.FinishReason);
        var call = Assert.Single(completion.ToolCalls);
        Assert.Equal("get_weather", call.FunctionName);
        Assert.True(completion.Usage.OutputTokenCount > 0);
        Assert.Equal((1m - Cost(completion.Usage.InputTokenCount, completion.Usage.OutputTokenCount, 0.15m, 0.6m), 0m), await _factory.GetBalanceAsync(accountId));

        // Given the tool's result, the model answers with text.
        ChatCompletion answer = await client.CompleteChatAsync([new UserChatMessage("Weather in Oslo?"), new AssistantChatMessage(completion), new ToolChatMessage(call.Id, "sunny")], options);
        Assert.Equal(ChatFinishReason.Stop, answer.FinishReason);
        Assert.NotEmpty(answer.Content[0].Text);
    }

    [Fact]
    public async Task A_streamed_chat_tool_call_carries_usage_in_its_final_chunk()
    {
        var (accountId, key) = await _factory.CreateCustomerAsync(credits: 1m);
        using var http = KeyClient(key);
        var tools = new[] { new { type = "function", function = new { name = "lookup", parameters = new { type = "object" } } } };

        var response = await http.PostAsJsonAsync("/v1/chat/completions", new
        {
            model = "gpt-4o-mini", stream = true, stream_options = new { include_usage = true }, tools,
            messages = new[] { new { role = "user", content = "Find invoices" } },
        });

        var events = Events(await response.Content.ReadAsStringAsync()).ToList();
        Assert.Equal("lookup", events[0].GetProperty("choices")[0].GetProperty("delta").GetProperty("tool_calls")[0].GetProperty("function").GetProperty("name").GetString());
        Assert.Contains(events, e => e.GetProperty("choices").GetArrayLength() > 0 && e.GetProperty("choices")[0].TryGetProperty("finish_reason", out var f) && f.GetString() == "tool_calls");
        var usage = events[^1].GetProperty("usage");
        Assert.Equal((1m - Cost(usage.GetProperty("prompt_tokens").GetInt64(), usage.GetProperty("completion_tokens").GetInt64(), 0.15m, 0.6m), 0m), await _factory.GetBalanceAsync(accountId));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Anthropic_tool_use_is_answered_and_billed(bool stream)
    {
        var (accountId, key) = await _factory.CreateCustomerAsync(credits: 1m);
        using var http = _factory.CreateClient();
        http.DefaultRequestHeaders.Add("x-api-key", key);
        var tools = new[] { new { name = "get_weather", input_schema = new { type = "object" } } };

        var response = await http.PostAsJsonAsync("/v1/messages", new { model = "claude-sonnet-4-5", max_tokens = 200, stream, tools, messages = new[] { new { role = "user", content = "Weather in Oslo?" } } });

        long input, output;
        if (stream)
        {
            var events = Events(await response.Content.ReadAsStringAsync()).ToList();
            var block = events.Single(e => e.GetProperty("type").GetString() == "content_block_start").GetProperty("content_block");
            Assert.Equal(("tool_use", "get_weather"), (block.GetProperty("type").GetString(), block.GetProperty("name").GetString()));
            var json = string.Concat(events.Where(e => e.GetProperty("type").GetString() == "content_block_delta").Select(e => e.GetProperty("delta").GetProperty("partial_json").GetString()));
            Assert.Equal("Weather in Oslo?", JsonDocument.Parse(json).RootElement.GetProperty("query").GetString());
            input = events[0].GetProperty("message").GetProperty("usage").GetProperty("input_tokens").GetInt64();
            output = events.Single(e => e.GetProperty("type").GetString() == "message_delta").GetProperty("usage").GetProperty("output_tokens").GetInt64();
        }
        else
        {
            var message = await GatewayFactory.ReadJsonAsync(response);
            Assert.Equal("tool_use", message.GetProperty("stop_reason").GetString());
            Assert.Equal("get_weather", message.GetProperty("content")[0].GetProperty("name").GetString());
            (input, output) = (message.GetProperty("usage").GetProperty("input_tokens").GetInt64(), message.GetProperty("usage").GetProperty("output_tokens").GetInt64());
        }

        Assert.True(output > 1);
        Assert.Equal((1m - Cost(input, output, 3m, 15m), 0m), await _factory.GetBalanceAsync(accountId));
    }

    [Fact]
    public async Task Embeddings_are_priced_per_input_token_and_hold_nothing_for_output()
    {
        var (accountId, key) = await _factory.CreateCustomerAsync(credits: 1m);
        var client = new EmbeddingClient("text-embedding-3-small", new ApiKeyCredential(key), Options());

        var result = await client.GenerateEmbeddingsAsync(["the invoice", "a receipt for the invoice"]);

        Assert.Equal(2, result.Value.Count);
        Assert.True(result.Value.Usage.InputTokenCount > 0);
        // text-embedding-3-small in prices.json: 0.02 per million input tokens.
        Assert.Equal((1m - Cost(result.Value.Usage.InputTokenCount, 0, 0.02m, 0m), 0m), await _factory.GetBalanceAsync(accountId));
        var record = Assert.Single(await _factory.WaitForUsageAsync(accountId, 1));
        Assert.Equal((result.Value.Usage.InputTokenCount, 0L, false), (record.GetProperty("inputTokens").GetInt64(), record.GetProperty("outputTokens").GetInt64(), record.GetProperty("tokensEstimated").GetBoolean()));
    }

    [Fact]
    public async Task Count_tokens_is_free_and_reserves_nothing_even_for_an_empty_account()
    {
        var (accountId, key) = await _factory.CreateCustomerAsync(credits: 0m);
        using var http = _factory.CreateClient();
        http.DefaultRequestHeaders.Add("x-api-key", key);

        var response = await http.PostAsJsonAsync("/v1/messages/count_tokens", new { model = "claude-sonnet-4-5", system = "Be brief.", messages = new[] { new { role = "user", content = "How many tokens is this?" } } });

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.True((await GatewayFactory.ReadJsonAsync(response)).GetProperty("input_tokens").GetInt64() > 5);
        Assert.Equal((0m, 0m), await _factory.GetBalanceAsync(accountId));

        using var anonymous = _factory.CreateClient();
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.PostAsJsonAsync("/v1/messages/count_tokens", new { model = "x", messages = Array.Empty<object>() })).StatusCode);
    }

    [Fact]
    public async Task The_LiteLLM_ingest_is_mapped_with_the_configured_secret()
    {
        var (accountId, _) = await _factory.CreateCustomerAsync(credits: 1m);
        using var http = _factory.CreateClient();
        var entry = JsonSerializer.Serialize(new
        {
            id = "chatcmpl-ingest-1", call_type = "acompletion", status = "success", model = "gpt-4o-mini",
            prompt_tokens = 1000, completion_tokens = 100, total_tokens = 1100, startTime = 1795251600.0, endTime = 1795251601.5, end_user = accountId,
        });

        using var unauthorized = new HttpRequestMessage(HttpMethod.Post, "/ingest/litellm") { Content = new StringContent(entry, Encoding.UTF8, "application/json") };
        Assert.Equal(HttpStatusCode.Unauthorized, (await http.SendAsync(unauthorized)).StatusCode);

        using var request = new HttpRequestMessage(HttpMethod.Post, "/ingest/litellm") { Content = new StringContent(entry, Encoding.UTF8, "application/json") };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", IngestSecret);
        var result = await GatewayFactory.ReadJsonAsync(await http.SendAsync(request));
        Assert.Equal(1, result.GetProperty("processed").GetInt32());
        Assert.Equal((1m - Cost(1000, 100, 0.15m, 0.6m), 0m), await _factory.GetBalanceAsync(accountId));
    }

    private OpenAIClientOptions Options() => _factory.OpenAIOptions();

    private HttpClient KeyClient(string key) => _factory.CreateKeyClient(key);

    private static IEnumerable<JsonElement> Events(string stream)
        => stream.Split('\n').Where(l => l.StartsWith("data: ", StringComparison.Ordinal) && l != "data: [DONE]").Select(l => JsonDocument.Parse(l[6..]).RootElement);

    private static JsonElement LastEvent(string stream, string type) => Events(stream).Last(e => e.GetProperty("type").GetString() == type);

    /// <summary>Tokens at per-million prices, rounded up to a nano-unit, as UsageBilling charges.</summary>
    private static decimal Cost(long input, long output, decimal inputPerMillion, decimal outputPerMillion)
        => Math.Ceiling((input * inputPerMillion + output * outputPerMillion) * 1000m) / 1_000_000_000m;
}
