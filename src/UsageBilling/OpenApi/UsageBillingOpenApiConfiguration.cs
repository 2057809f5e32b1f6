using System.Globalization;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.Extensions.Options;
using Microsoft.OpenApi;

namespace UsageBilling;

/// <summary>
/// Describes UsageBilling in every OpenAPI document of the app (<c>builder.Services.AddOpenApi()</c>), with nothing to
/// call: the <c>ApiKey</c> security scheme and its requirement on API-key endpoints, the rate-limit headers of metered
/// endpoints, operation ids and tag descriptions of UsageBilling's endpoints, and money as a JSON number. The app's own
/// schemes (for example on the admin endpoints) are the app's to describe, with its own operation transformer.
/// </summary>
internal sealed class UsageBillingOpenApiConfiguration : IConfigureNamedOptions<OpenApiOptions>
{
    internal const string ApiKeySchemeName = ApiKeyDefaults.AuthenticationScheme;
    internal const string IngestSchemeName = "UsageBillingIngestToken";

    internal const string AdminTag = "UsageBilling admin";
    internal const string SelfServiceTag = "UsageBilling self-service";
    internal const string IngestTag = "UsageBilling ingest";

    private static readonly (string Name, string Description)[] Tags =
    [
        (AdminTag, "Accounts, credits, ledger, API keys, budgets, provider keys, prices and usage analytics, for operators. The app protects these routes."),
        (SelfServiceTag, "What the calling API key's own account can see of itself: balance, usage, limits, ledger and its own provider keys."),
        (IngestTag, "Bills usage that happened in another gateway (LiteLLM callbacks), once per call."),
    ];

    private static readonly (string Name, string Description)[] RateLimitHeaders =
    [
        ("X-RateLimit-Limit", "The binding limit's size (requests or tokens) in its window."),
        ("X-RateLimit-Remaining", "What is left of the binding limit in its window."),
        ("X-RateLimit-Reset", "When the binding limit's window resets, in Unix seconds."),
        ("RateLimit", "IETF RateLimit header: what is left of each limit and when it resets."),
        ("RateLimit-Policy", "IETF RateLimit-Policy header: every limit that applies to the key."),
    ];

    private readonly IOptions<UsageBillingOptions> _billing;

    public UsageBillingOpenApiConfiguration(IOptions<UsageBillingOptions> billing) => _billing = billing;

    public void Configure(OpenApiOptions options) => Configure(Options.DefaultName, options);

    public void Configure(string? name, OpenApiOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var headerName = _billing.Value.Keys.HeaderNames.FirstOrDefault() ?? "X-API-Key";
        options.AddDocumentTransformer((document, _, _) =>
        {
            DescribeDocument(document);
            return Task.CompletedTask;
        });
        options.AddOperationTransformer((operation, context, _) =>
        {
            DescribeOperation(operation, context.Description.ActionDescriptor.EndpointMetadata, context.Document, headerName);
            return Task.CompletedTask;
        });
        options.AddSchemaTransformer((schema, context, _) =>
        {
            var type = Nullable.GetUnderlyingType(context.JsonTypeInfo.Type) ?? context.JsonTypeInfo.Type;
            if (type == typeof(Money))
            {
                schema.Type = context.JsonTypeInfo.Type == type ? JsonSchemaType.Number : JsonSchemaType.Number | JsonSchemaType.Null;
                schema.Format = "decimal";
                schema.Description ??= "An amount in currency units, exact to 9 decimal places.";
            }

            return Task.CompletedTask;
        });
    }

    internal static void DescribeDocument(OpenApiDocument document)
    {
        document.Tags ??= new HashSet<OpenApiTag>();
        foreach (var (tag, description) in Tags)
        {
            if (document.Tags.FirstOrDefault(t => t.Name == tag) is { } existing)
            {
                existing.Description ??= description;
            }
            else if (document.Paths?.Values.Any(p => p.Operations?.Values.Any(o => o.Tags?.Any(t => t.Name == tag) == true) == true) == true)
            {
                document.Tags.Add(new OpenApiTag { Name = tag, Description = description });
            }
        }
    }

    /// <summary>Defines the scheme the operation names (operations are described before the document's transformers run).</summary>
    private static void EnsureSecurityScheme(OpenApiDocument document, string scheme, string headerName)
    {
        document.Components ??= new OpenApiComponents();
        document.Components.SecuritySchemes ??= new Dictionary<string, IOpenApiSecurityScheme>();
        document.Components.SecuritySchemes.TryAdd(scheme, scheme == ApiKeySchemeName
            ? new OpenApiSecurityScheme
            {
                Type = SecuritySchemeType.ApiKey,
                In = ParameterLocation.Header,
                Name = headerName,
                Description = $"A UsageBilling API key in the {headerName} header (or 'Authorization: Bearer <key>').",
            }
            : new OpenApiSecurityScheme
            {
                Type = SecuritySchemeType.Http,
                Scheme = "bearer",
                Description = "The usage-ingest secret (UsageBilling:Ingest:Secret) as 'Authorization: Bearer <secret>'.",
            });
    }

    internal static void DescribeOperation(OpenApiOperation operation, IList<object> metadata, OpenApiDocument? document, string headerName)
    {
        if (metadata.OfType<OperationIdMetadata>().LastOrDefault() is { } id)
        {
            operation.OperationId ??= id.OperationId;
        }

        var schemes = metadata.OfType<IAuthorizeData>()
            .SelectMany(a => (a.AuthenticationSchemes ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            .Distinct(StringComparer.Ordinal)
            .ToList();
        if (metadata.OfType<IngestEndpointMetadata>().Any())
        {
            schemes.Add(IngestSchemeName);
        }

        if (metadata.OfType<IAllowAnonymous>().Any() && schemes.Count == 0)
        {
            operation.Security ??= [];
        }

        foreach (var scheme in schemes)
        {
            if (scheme is ApiKeySchemeName or IngestSchemeName && document is not null)
            {
                EnsureSecurityScheme(document, scheme, headerName);
                operation.Security ??= [];
                operation.Security.Add(new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference(scheme, document)] = [] });
            }
        }

        if (metadata.Any(m => m is MeteredAttribute or MeterLlmUsageAttribute) && operation.Responses is { } responses)
        {
            foreach (var (status, response) in responses)
            {
                if (response is not OpenApiResponse concrete || !int.TryParse(status, NumberStyles.None, CultureInfo.InvariantCulture, out var code))
                {
                    continue;
                }

                if (code is (>= 200 and < 300) or 429)
                {
                    concrete.Headers ??= new Dictionary<string, IOpenApiHeader>();
                    foreach (var (header, description) in RateLimitHeaders)
                    {
                        concrete.Headers.TryAdd(header, new OpenApiHeader { Description = description, Schema = new OpenApiSchema { Type = JsonSchemaType.String } });
                    }
                }

                if (code is 429 or 503)
                {
                    concrete.Headers ??= new Dictionary<string, IOpenApiHeader>();
                    concrete.Headers.TryAdd("Retry-After", new OpenApiHeader { Description = "Seconds to wait before retrying.", Schema = new OpenApiSchema { Type = JsonSchemaType.Integer } });
                }
            }
        }
    }
}

/// <summary>Marks the usage-ingest endpoint, which is authenticated by the ingest secret rather than an API key.</summary>
internal sealed class IngestEndpointMetadata;
