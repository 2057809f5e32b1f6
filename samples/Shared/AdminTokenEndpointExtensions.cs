using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.AspNetCore.Mvc;

namespace Samples.Shared;

/// <summary>Marks endpoints protected by the samples' admin token, so that their OpenAPI description names the scheme.</summary>
internal sealed class AdminTokenMetadata;

/// <summary>
/// The samples' protection of the admin API: a shared token in the <c>X-Admin-Token</c> header, compared in constant
/// time. A real app would use its own authorization policy instead.
/// </summary>
internal static class AdminTokenEndpointExtensions
{
    public const string HeaderName = "X-Admin-Token";

    public static TBuilder RequireAdminToken<TBuilder>(this TBuilder builder, Func<IServiceProvider, string?> expectedToken)
        where TBuilder : IEndpointConventionBuilder
        => builder.WithMetadata(new AdminTokenMetadata(), new ProducesResponseTypeMetadata(StatusCodes.Status401Unauthorized, typeof(ProblemDetails), ["application/problem+json"]))
            .AddEndpointFilter(async (context, next) =>
            {
                var presented = context.HttpContext.Request.Headers[HeaderName].ToString();
                var expected = expectedToken(context.HttpContext.RequestServices);
                if (string.IsNullOrEmpty(expected) || !CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(presented), Encoding.UTF8.GetBytes(expected)))
                {
                    return Results.Problem(statusCode: StatusCodes.Status401Unauthorized, title: "Unauthorized",
                        detail: "Send the admin token in the X-Admin-Token header.", type: "urn:usagebilling:sample:admin-token-required");
                }

                return await next(context);
            });
}
