using Microsoft.OpenApi;
using UsageBilling.Tests.Shared;

namespace LlmGateway.Tests;

/// <summary>The gateway's OpenAPI document is one a client can be generated from.</summary>
public sealed class OpenApiDocumentTests : IClassFixture<OpenApiDocumentTests.Gateway>
{
    /// <summary>One gateway for the class's tests.</summary>
    public sealed class Gateway : IDisposable
    {
        public GatewayFactory Factory { get; } = new();

        public void Dispose() => Factory.Dispose();
    }

    private readonly GatewayFactory _factory;

    public OpenApiDocumentTests(Gateway gateway) => _factory = gateway.Factory;

    private Task<string> DocumentAsync() => OpenApiDocumentChecks.ReadAsync(_factory.CreateClient());

    [Fact]
    public async Task The_document_is_valid_and_the_model_endpoints_declare_bodies_refusals_and_the_api_key_scheme()
    {
        var document = OpenApiDocumentChecks.Parse(await DocumentAsync());
        OpenApiDocumentChecks.AssertDescribesEveryOperation(document);
        Assert.Contains(OpenApiDocumentChecks.Operations(document), o => OpenApiDocumentChecks.TypedQueryParameters(o.Operation).Any(p => p.Name == "limit"));

        var chat = OpenApiDocumentChecks.Operations(document).Single(o => o.Operation.OperationId == "createChatCompletion").Operation;
        Assert.Equal(["ApiKey"], OpenApiDocumentChecks.Schemes(chat));
        Assert.NotNull(chat.RequestBody!.Content!["application/json"].Schema);
        Assert.Contains("text/event-stream", chat.Responses!["200"].Content!.Keys);
        foreach (var status in new[] { "400", "401", "402", "403", "409", "413", "422", "429", "503" })
        {
            Assert.True(chat.Responses.ContainsKey(status), $"createChatCompletion does not declare {status}");
        }

        Assert.Contains("RateLimit", chat.Responses["200"].Headers!.Keys);
    }

    [Fact]
    public async Task The_model_endpoints_declare_refusals_in_their_api_error_shape_and_other_routes_as_problems()
    {
        var document = OpenApiDocumentChecks.Parse(await DocumentAsync());
        var operations = OpenApiDocumentChecks.Operations(document).ToDictionary(o => $"{o.Method} {o.Path}", o => o.Operation);

        foreach (var (route, schema) in new[]
        {
            ("POST /v1/chat/completions", "OpenAIError"), ("POST /v1/responses", "OpenAIError"),
            ("POST /v1/embeddings", "OpenAIError"), ("POST /v1/messages", "AnthropicError"),
        })
        {
            foreach (var status in new[] { "400", "401", "402", "403", "409", "413", "422", "429", "503" })
            {
                var response = operations[route].Responses![status];
                Assert.Equal(schema, OpenApiDocumentChecks.LlmErrorSchema(response));
                Assert.False(response.Content!.ContainsKey("application/problem+json"), $"{route} {status} still declares a problem");
            }
        }

        Assert.Contains("Retry-After", operations["POST /v1/chat/completions"].Responses!["429"].Headers!.Keys);

        var openAI = document.Components!.Schemas!["OpenAIError"];
        Assert.Equal(["error"], openAI.Required!);
        var openAIError = openAI.Properties!["error"];
        Assert.Equal(["code", "message", "param", "type"], openAIError.Required!.Order(StringComparer.Ordinal));
        Assert.Equal(JsonSchemaType.String | JsonSchemaType.Null, openAIError.Properties!["param"].Type);
        var anthropic = document.Components.Schemas["AnthropicError"];
        Assert.Equal(["error", "type"], anthropic.Required!.Order(StringComparer.Ordinal));
        Assert.Equal("error", anthropic.Properties!["type"].Enum!.Single()!.GetValue<string>());
        Assert.Equal(["message", "type"], anthropic.Properties["error"].Required!.Order(StringComparer.Ordinal));

        // Routes not metered by LLM tokens keep RFC 9457 problems: the admin API and the free token count.
        var admin = OpenApiDocumentChecks.Operations(document).Single(o => o.Path.StartsWith("/admin/billing", StringComparison.Ordinal) && o.Operation.OperationId == "getAccount").Operation;
        Assert.Equal("ProblemDetails", OpenApiDocumentChecks.ProblemSchema(admin.Responses!["404"]));
        Assert.Null(OpenApiDocumentChecks.LlmErrorSchema(admin.Responses["404"]));
        var countTokens = operations["POST /v1/messages/count_tokens"];
        Assert.Equal("ProblemDetails", OpenApiDocumentChecks.ProblemSchema(countTokens.Responses!["401"]));
    }

    [SkippableFact]
    public async Task Redocly_finds_no_error_under_its_recommended_rules()
    {
        var skip = OpenApiDocumentChecks.LintSkipReason();
        Skip.If(skip is not null, skip);
        var lint = await OpenApiDocumentChecks.LintAsync(await DocumentAsync());
        Assert.True(lint!.Value.Errors == 0, $"{lint.Value.Errors} errors, {lint.Value.Warnings} warnings:\n{lint.Value.Problems}");
    }
}
