using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;

namespace Samples.Shared;

/// <summary>
/// The samples' OpenAPI document: title, licence, server without a trailing slash, the <c>AdminToken</c> scheme on the
/// admin routes (see <see cref="AdminTokenEndpointExtensions"/>) and descriptions of the samples' own tags.
/// UsageBilling describes its own endpoints, the <c>ApiKey</c> scheme and the metered responses by itself.
/// </summary>
internal static class SampleOpenApi
{
    public const string AdminTokenScheme = "AdminToken";

    public static IServiceCollection AddSampleOpenApi(this IServiceCollection services, string title, string description,
        params (string Tag, string Description)[] tags)
        => services.AddOpenApi(options =>
        {
            options.AddDocumentTransformer((document, context, _) =>
            {
                document.Info.Title = title;
                document.Info.Description = description;
                document.Info.License = new OpenApiLicense { Name = "MIT", Identifier = "MIT" };
                foreach (var server in document.Servers ?? [])
                {
                    server.Url = server.Url?.TrimEnd('/');
                }

                document.Components ??= new OpenApiComponents();
                document.Components.SecuritySchemes ??= new Dictionary<string, IOpenApiSecurityScheme>();
                document.Components.SecuritySchemes[AdminTokenScheme] = new OpenApiSecurityScheme
                {
                    Type = SecuritySchemeType.ApiKey,
                    In = ParameterLocation.Header,
                    Name = AdminTokenEndpointExtensions.HeaderName,
                    Description = "The sample's admin token (a real app would use its own authorization).",
                };
                document.Tags ??= new HashSet<OpenApiTag>();
                foreach (var (tag, text) in tags)
                {
                    if (document.Tags.FirstOrDefault(t => t.Name == tag) is { } existing)
                    {
                        existing.Description = text;
                    }
                    else
                    {
                        document.Tags.Add(new OpenApiTag { Name = tag, Description = text });
                    }
                }

                return Task.CompletedTask;
            });
            options.AddOperationTransformer((operation, context, _) =>
            {
                if (context.Description.ActionDescriptor.EndpointMetadata.OfType<AdminTokenMetadata>().Any() && context.Document is { } document)
                {
                    operation.Security ??= [];
                    operation.Security.Add(new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference(AdminTokenScheme, document)] = [] });
                }

                return Task.CompletedTask;
            });
        });
}
