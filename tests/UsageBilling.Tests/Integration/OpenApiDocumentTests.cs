using System.Globalization;
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

    [Fact]
    public async Task Page_sizes_and_periods_are_typed_and_a_value_outside_the_type_is_a_400_problem_naming_the_parameter()
    {
        var document = OpenApiDocumentChecks.Parse(await DocumentAsync());
        var typed = OpenApiDocumentChecks.Operations(document)
            .SelectMany(o => OpenApiDocumentChecks.TypedQueryParameters(o.Operation).Select(p => (o.Path, o.Method, o.Operation, Parameter: p)))
            .ToList();
        var operations = typed.Select(t => t.Operation.OperationId).ToHashSet();
        foreach (var id in new[] { "getLedger", "queryUsage", "getUsageSummary", "getUsageDaily", "getTopAccounts", "getQuotas", "getOwnUsage", "getOwnLedger" })
        {
            Assert.Contains(id, operations);
        }

        var (accountId, key, _) = await _factory.CreateCustomerAsync(1m);
        using var admin = _factory.CreateAdminClient();
        using var self = _factory.CreateKeyClient(key);
        foreach (var (path, method, operation, parameter) in typed)
        {
            Assert.Equal("GET", method);
            var client = OpenApiDocumentChecks.Schemes(operation).Contains("ApiKey") ? self : admin;
            var url = path.Replace("{id}", accountId, StringComparison.Ordinal) + "?" + parameter.Name + "=";
            var integer = parameter.Schema!.Type == JsonSchemaType.Integer;
            string[] outside = integer
                ? ["abc", "1.5", "-1", "0", (int.Parse(parameter.Schema.Maximum!, CultureInfo.InvariantCulture) + 1).ToString(CultureInfo.InvariantCulture), "99999999999"]
                : ["yesterday", "2026-13-01T00:00:00Z", "1e9"];
            foreach (var value in outside)
            {
                var problem = await MeteredApiFactory.ReadProblemAsync(await client.GetAsync(url + Uri.EscapeDataString(value)), 400, ProblemTypes.ValidationFailed);
                Assert.True(problem.GetProperty("errors").TryGetProperty(parameter.Name!, out _), $"{operation.OperationId} {parameter.Name}={value}: {problem}");
            }

            var inside = integer ? parameter.Schema.Maximum! : parameter.Name == "from" ? "2026-11-01T00:00:00Z" : "2026-12-01T00:00:00Z";
            var accepted = await client.GetAsync(url + Uri.EscapeDataString(inside));
            Assert.True(accepted.IsSuccessStatusCode, $"{operation.OperationId} {parameter.Name}={inside}: {(int)accepted.StatusCode} {await accepted.Content.ReadAsStringAsync()}");
        }
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
