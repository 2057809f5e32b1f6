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

    private async Task<string> DocumentAsync()
    {
        using var client = _factory.CreateClient();
        return await client.GetStringAsync("/openapi/v1.json");
    }

    [Fact]
    public async Task The_document_is_valid_and_the_model_endpoints_declare_bodies_refusals_and_the_api_key_scheme()
    {
        var document = OpenApiDocumentChecks.Parse(await DocumentAsync());
        OpenApiDocumentChecks.AssertDescribesEveryOperation(document);

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

    [SkippableFact]
    public async Task Redocly_finds_no_error_under_its_recommended_rules()
    {
        var skip = OpenApiDocumentChecks.LintSkipReason();
        Skip.If(skip is not null, skip);
        var lint = await OpenApiDocumentChecks.LintAsync(await DocumentAsync());
        Assert.True(lint!.Value.Errors == 0, $"{lint.Value.Errors} errors, {lint.Value.Warnings} warnings:\n{lint.Value.Problems}");
    }
}
