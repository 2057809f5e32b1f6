using Microsoft.OpenApi;
using UsageBilling.Tests.Shared;

namespace UsageBilling.Tests.Integration;

/// <summary>The MeteredApi sample's OpenAPI document is one a client can be generated from.</summary>
public sealed class OpenApiDocumentTests : IClassFixture<MeteredApiFactory>
{
    private readonly MeteredApiFactory _factory;

    public OpenApiDocumentTests(MeteredApiFactory factory) => _factory = factory;

    private Task<string> DocumentAsync() => OpenApiDocumentChecks.ReadAsync(_factory.CreateClient());

    [Fact]
    public async Task The_document_is_valid_and_describes_every_operation_with_its_bodies_statuses_and_parameters()
    {
        var document = OpenApiDocumentChecks.Parse(await DocumentAsync());
        OpenApiDocumentChecks.AssertDescribesEveryOperation(document);

        var operations = OpenApiDocumentChecks.Operations(document).ToDictionary(o => o.Operation.OperationId!, o => o.Operation);
        Assert.Contains("createAccount", operations.Keys);
        Assert.Contains("setAccountProviderKey", operations.Keys);
        var created = operations["createAccount"].Responses!["201"].Content!["application/json"].Schema;
        Assert.NotNull(created);
        var credits = operations["postCredits"];
        Assert.Equal(["200", "201", "400", "401", "404", "409", "415", "503"], credits.Responses!.Keys.Order(StringComparer.Ordinal));
        Assert.NotNull(credits.RequestBody?.Content?["application/json"].Schema);
    }

    [Fact]
    public async Task Metered_routes_declare_the_api_key_scheme_the_refusals_and_the_rate_limit_headers()
    {
        var document = OpenApiDocumentChecks.Parse(await DocumentAsync());
        var quote = OpenApiDocumentChecks.Operations(document).Single(o => o.Operation.OperationId == "getQuote").Operation;
        Assert.Equal(["ApiKey"], OpenApiDocumentChecks.Schemes(quote));
        foreach (var status in new[] { "401", "402", "409", "422", "429", "503" })
        {
            Assert.True(quote.Responses!.ContainsKey(status), $"getQuote does not declare {status}");
        }

        Assert.Contains("X-RateLimit-Remaining", quote.Responses!["200"].Headers!.Keys);
        Assert.Contains("Retry-After", quote.Responses!["429"].Headers!.Keys);
        Assert.Equal(JsonSchemaType.Number, document.Components!.Schemas!["BalanceResponse"].Properties!["available"].Type);

        var balance = OpenApiDocumentChecks.Operations(document).Single(o => o.Operation.OperationId == "getOwnBalance").Operation;
        Assert.Equal(["ApiKey"], OpenApiDocumentChecks.Schemes(balance));
        var admin = OpenApiDocumentChecks.Operations(document).Single(o => o.Operation.OperationId == "getAccount").Operation;
        Assert.Equal(["AdminToken"], OpenApiDocumentChecks.Schemes(admin));
        Assert.NotNull(document.Tags!.Single(t => t.Name == "UsageBilling admin").Description);
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
