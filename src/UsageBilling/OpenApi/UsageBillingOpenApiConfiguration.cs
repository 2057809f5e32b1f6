using System.Globalization;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.Extensions.Options;
using Microsoft.OpenApi;

namespace UsageBilling;

/// <summary>
/// Describes UsageBilling in every OpenAPI document of the app (<c>builder.Services.AddOpenApi()</c>), with nothing to
/// call: the <c>ApiKey</c> security scheme and its requirement on API-key endpoints, the rate-limit headers of metered
/// endpoints, the refusals of LLM-metered endpoints in their API's error shape (<c>OpenAIError</c>, <c>AnthropicError</c>)
/// rather than as problems, operation ids and tag descriptions of UsageBilling's endpoints, and money as a JSON number. The app's own
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
            DescribeOperation(operation, context.Description.ActionDescriptor.EndpointMetadata, context.Document, headerName, context.Description.RelativePath);
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

    internal static void DescribeOperation(OpenApiOperation operation, IList<object> metadata, OpenApiDocument? document, string headerName, string? path = null)
    {
        if (metadata.OfType<OperationIdMetadata>().LastOrDefault() is { } id)
        {
            operation.OperationId ??= id.OperationId;
        }

        DescribeQueryParameters(operation, metadata);

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

        if (metadata.OfType<MeterLlmUsageAttribute>().LastOrDefault() is { } llm && operation.Responses is { } llmResponses && document is not null)
        {
            DescribeLlmErrors(llmResponses, LlmRequestParser.ResolveFormat(llm.Format, "/" + (path ?? "")), document);
        }
    }

    /// <summary>Query parameters read as text by the handler get the schema of the value they must hold.</summary>
    private static void DescribeQueryParameters(OpenApiOperation operation, IList<object> metadata)
    {
        foreach (var query in metadata.OfType<QueryParameterMetadata>())
        {
            if (operation.Parameters?.OfType<OpenApiParameter>().FirstOrDefault(p => p.In == ParameterLocation.Query && p.Name == query.Name) is not { } parameter)
            {
                continue;
            }

            parameter.Description ??= query.Description;
            parameter.Schema = query.IsDateTime
                ? new OpenApiSchema { Type = JsonSchemaType.String, Format = "date-time" }
                : new OpenApiSchema
                {
                    Type = JsonSchemaType.Integer,
                    Format = "int32",
                    Minimum = query.Minimum?.ToString(CultureInfo.InvariantCulture),
                    Maximum = query.Maximum?.ToString(CultureInfo.InvariantCulture),
                    Default = query.Default is { } value ? JsonValue.Create(value) : null,
                };
        }
    }

    internal const string OpenAIErrorSchemaName = "OpenAIError";
    internal const string AnthropicErrorSchemaName = "AnthropicError";

    /// <summary>
    /// Refusals on an LLM-metered endpoint are written in its API's error shape (<see cref="LlmErrorResponses"/>), not as
    /// problems: the problem responses it declares become <c>application/json</c> of the <c>OpenAIError</c> or
    /// <c>AnthropicError</c> schema. Responses the app declared with another content type are left as they are.
    /// </summary>
    private static void DescribeLlmErrors(OpenApiResponses responses, LlmApiFormat format, OpenApiDocument document)
    {
        var anthropic = format == LlmApiFormat.AnthropicMessages;
        var name = anthropic ? AnthropicErrorSchemaName : OpenAIErrorSchemaName;
        var described = false;
        foreach (var (status, response) in responses)
        {
            if (response is OpenApiResponse concrete
                && int.TryParse(status, NumberStyles.None, CultureInfo.InvariantCulture, out var code) && code >= 400
                && concrete.Content is { } content && content.ContainsKey("application/problem+json"))
            {
                content.Remove("application/problem+json");
                content["application/json"] = new OpenApiMediaType { Schema = new OpenApiSchemaReference(name, document) };
                described = true;
            }
        }

        if (described)
        {
            document.Components ??= new OpenApiComponents();
            document.Components.Schemas ??= new Dictionary<string, IOpenApiSchema>();
            document.Components.Schemas.TryAdd(name, anthropic ? AnthropicErrorSchema() : OpenAIErrorSchema());
        }
    }

    private static OpenApiSchema StringSchema(string description, bool nullable = false)
        => new() { Type = nullable ? JsonSchemaType.String | JsonSchemaType.Null : JsonSchemaType.String, Description = description };

    /// <summary><c>{"error":{"message","type","param","code"}}</c>, with the problem's extensions beside them.</summary>
    private static OpenApiSchema OpenAIErrorSchema() => new()
    {
        Type = JsonSchemaType.Object,
        Description = "A refusal in the OpenAI API's error shape.",
        Required = new HashSet<string> { "error" },
        Properties = new Dictionary<string, IOpenApiSchema>
        {
            ["error"] = new OpenApiSchema
            {
                Type = JsonSchemaType.Object,
                Description = "The error; the problem's extensions (for example the required and available credit) follow these four properties.",
                Required = new HashSet<string> { "message", "type", "param", "code" },
                Properties = new Dictionary<string, IOpenApiSchema>
                {
                    ["message"] = StringSchema("What went wrong, for people."),
                    ["type"] = StringSchema("OpenAI's error type for the status (for example insufficient_quota or rate_limit_error)."),
                    ["param"] = StringSchema("The request property at fault (model), or null.", nullable: true),
                    ["code"] = StringSchema("The stable UsageBilling problem type (a ProblemTypes URI, for example urn:usagebilling:problem:insufficient-credits)."),
                },
            },
        },
    };

    /// <summary><c>{"type":"error","error":{"type","message"}}</c>, with the problem's extensions beside them.</summary>
    private static OpenApiSchema AnthropicErrorSchema() => new()
    {
        Type = JsonSchemaType.Object,
        Description = "A refusal in the Anthropic API's error shape.",
        Required = new HashSet<string> { "type", "error" },
        Properties = new Dictionary<string, IOpenApiSchema>
        {
            ["type"] = new OpenApiSchema { Type = JsonSchemaType.String, Enum = [JsonValue.Create("error")!], Description = "Always error." },
            ["error"] = new OpenApiSchema
            {
                Type = JsonSchemaType.Object,
                Description = "The error; the problem's extensions (for example the required and available credit) follow these two properties.",
                Required = new HashSet<string> { "type", "message" },
                Properties = new Dictionary<string, IOpenApiSchema>
                {
                    ["type"] = StringSchema("Anthropic's error type for the status (for example billing_error or rate_limit_error)."),
                    ["message"] = StringSchema("What went wrong, ending with the stable UsageBilling problem type in parentheses."),
                },
            },
        },
    };
}

/// <summary>Marks the usage-ingest endpoint, which is authenticated by the ingest secret rather than an API key.</summary>
internal sealed class IngestEndpointMetadata;
