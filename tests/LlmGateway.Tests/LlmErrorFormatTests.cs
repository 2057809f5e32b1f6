using System.ClientModel;
using System.ClientModel.Primitives;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using OpenAI;
using OpenAI.Chat;

namespace LlmGateway.Tests;

/// <summary>Refusals on the LLM routes come in the API's own error shape, so the SDKs show the reason.</summary>
public sealed class LlmErrorFormatTests : IDisposable
{
    private readonly GatewayFactory _factory = new();

    public void Dispose() => _factory.Dispose();

    [Fact]
    public async Task The_OpenAI_SDK_exception_names_insufficient_credit_with_required_and_available()
    {
        var (_, key) = await _factory.CreateCustomerAsync(credits: 0.0001m);
        var error = await Assert.ThrowsAsync<ClientResultException>(() =>
            ChatClient("gpt-4o-mini", key).CompleteChatAsync([new UserChatMessage("hi")], new ChatCompletionOptions { MaxOutputTokenCount = 100_000 }));

        Assert.Equal(402, error.Status);
        Assert.Contains("insufficient_quota", error.Message, StringComparison.Ordinal);
        Assert.Contains("urn:usagebilling:problem:insufficient-credits", error.Message, StringComparison.Ordinal);
        Assert.Matches(@"This call needs 0\.0\d+ but the account has 0\.0001 available\.", error.Message);
    }

    [Fact]
    public async Task The_OpenAI_SDK_exception_names_an_invalid_key_and_an_unknown_model()
    {
        var invalid = await Assert.ThrowsAsync<ClientResultException>(() => ChatClient("gpt-4o-mini", "sk-gw-not-a-real-key").CompleteChatAsync([new UserChatMessage("hi")]));
        Assert.Equal(401, invalid.Status);
        Assert.Contains("urn:usagebilling:problem:invalid-api-key", invalid.Message, StringComparison.Ordinal);
        Assert.Contains("API key", invalid.Message, StringComparison.Ordinal);

        var (_, key) = await _factory.CreateCustomerAsync(credits: 1m);
        var unknown = await Assert.ThrowsAsync<ClientResultException>(() => ChatClient("gpt-9-ultra", key).CompleteChatAsync([new UserChatMessage("hi")]));
        Assert.Equal(400, unknown.Status);
        Assert.Contains("The model 'gpt-9-ultra' is not available.", unknown.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_rate_limited_OpenAI_call_keeps_429_and_its_headers_in_the_OpenAI_shape()
    {
        var (_, key) = await _factory.CreateCustomerAsync(credits: 1m, limits: new { requestsPerMinute = 1 });
        using var http = KeyClient(key);
        var body = new { model = "gpt-4o-mini", max_tokens = 5, messages = new[] { new { role = "user", content = "hi" } } };
        Assert.Equal(HttpStatusCode.OK, (await http.PostAsJsonAsync("/v1/chat/completions", body)).StatusCode);

        var refused = await http.PostAsJsonAsync("/v1/chat/completions", body);
        Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
        Assert.True(refused.Headers.Contains("Retry-After") || refused.Headers.Contains("X-RateLimit-Reset"));
        Assert.Equal("application/json", refused.Content.Headers.ContentType?.MediaType);
        var error = (await ErrorJsonAsync(refused)).GetProperty("error");
        Assert.Equal(("rate_limit_error", "urn:usagebilling:problem:rate-limited"), (error.GetProperty("type").GetString(), error.GetProperty("code").GetString()));
        Assert.Equal(System.Text.Json.JsonValueKind.Null, error.GetProperty("param").ValueKind);
    }

    [Fact]
    public async Task Anthropic_routes_answer_in_the_Anthropic_error_shape()
    {
        var (_, key) = await _factory.CreateCustomerAsync(credits: 0.0001m);
        using var http = _factory.CreateClient();
        http.DefaultRequestHeaders.Add("x-api-key", key);
        http.DefaultRequestHeaders.Add("anthropic-version", "2023-06-01");

        var response = await http.PostAsJsonAsync("/v1/messages", new { model = "claude-sonnet-4-5", max_tokens = 100_000, messages = new[] { new { role = "user", content = "hi" } } });

        Assert.Equal(HttpStatusCode.PaymentRequired, response.StatusCode);
        var json = await ErrorJsonAsync(response);
        Assert.Equal("error", json.GetProperty("type").GetString());
        Assert.Equal("billing_error", json.GetProperty("error").GetProperty("type").GetString());
        Assert.Matches(@"^This call needs .+ but the account has 0\.0001 available\. \(urn:usagebilling:problem:insufficient-credits\)$", json.GetProperty("error").GetProperty("message").GetString());
        Assert.Equal(0.0001m, json.GetProperty("error").GetProperty("available").GetDecimal());
    }

    [Fact]
    public async Task Other_endpoints_keep_problem_details()
    {
        using var http = KeyClient("sk-gw-not-a-real-key");
        var response = await http.GetAsync("/v1/billing/balance");

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal("urn:usagebilling:problem:invalid-api-key", (await ErrorJsonAsync(response)).GetProperty("type").GetString());
    }

    private static async Task<System.Text.Json.JsonElement> ErrorJsonAsync(HttpResponseMessage response)
        => System.Text.Json.JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;

    private ChatClient ChatClient(string model, string key)
        => new(model, new ApiKeyCredential(key), _factory.OpenAIOptions());

    private HttpClient KeyClient(string key) => _factory.CreateKeyClient(key);
}

/// <summary>The official Anthropic .NET SDK reads the refusal reason from the Anthropic error shape.</summary>
public sealed class AnthropicSdkErrorTests : IDisposable
{
    private readonly GatewayFactory _factory = new();

    public void Dispose() => _factory.Dispose();

    [Fact]
    public async Task The_Anthropic_SDK_exception_names_insufficient_credit_with_required_and_available()
    {
        var (_, key) = await _factory.CreateCustomerAsync(credits: 0.0001m);
        var client = new Anthropic.AnthropicClient
        {
            ApiKey = key,
            BaseUrl = _factory.BaseAddress.ToString().TrimEnd('/'),
            HttpClient = _factory.CreateClient(),
            MaxRetries = 0,
        };

        var error = await Assert.ThrowsAnyAsync<Exception>(() => client.Messages.Create(new Anthropic.Models.Messages.MessageCreateParams
        {
            Model = "claude-sonnet-4-5",
            MaxTokens = 100_000,
            Messages = [new Anthropic.Models.Messages.UserMessageParam { Content = "hi" }],
        }));

        Assert.IsAssignableFrom<Anthropic.Exceptions.AnthropicException>(error);
        Assert.Matches(@"This call needs .+ but the account has 0\.0001 available\.", error.ToString());
        Assert.StartsWith("AnthropicPaymentRequired", error.GetType().Name, StringComparison.Ordinal);
    }
}
