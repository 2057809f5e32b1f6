using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.AspNetCore.Mvc;
using UsageBilling;

namespace Microsoft.AspNetCore.Builder;

/// <summary>Marks endpoints as metered and API-key protected.</summary>
public static class MeteredEndpointConventionBuilderExtensions
{
    /// <summary>
    /// Requires an API key (the <c>ApiKey</c> scheme) on the endpoints. Their OpenAPI description gets the scheme's
    /// security requirement and the 401 and 503 problems the key check can answer.
    /// </summary>
    public static TBuilder RequireApiKey<TBuilder>(this TBuilder builder) where TBuilder : IEndpointConventionBuilder
        => builder.RequireAuthorization(new AuthorizeAttribute { AuthenticationSchemes = ApiKeyDefaults.AuthenticationScheme })
            .WithProblems(StatusCodes.Status401Unauthorized, StatusCodes.Status503ServiceUnavailable);

    /// <summary>Meters the endpoints at a fixed price per call in currency units.</summary>
    public static TBuilder WithCost<TBuilder>(this TBuilder builder, decimal cost) where TBuilder : IEndpointConventionBuilder
        => builder.WithCost(Money.FromUnits(cost));

    /// <summary>Meters the endpoints at a fixed price per call.</summary>
    public static TBuilder WithCost<TBuilder>(this TBuilder builder, Money cost) where TBuilder : IEndpointConventionBuilder
        => builder.WithMetadata(new MeteredAttribute(cost)).WithProblems(MeteredProblems);

    /// <summary>
    /// Meters the endpoints by LLM tokens: OpenAI chat completions, OpenAI Responses or Anthropic messages requests
    /// (JSON or streamed), priced per model from the pricing catalog. See <see cref="MeterLlmUsageAttribute"/>.
    /// </summary>
    /// <param name="builder">The endpoints.</param>
    /// <param name="format">The wire format; by default chosen from the path.</param>
    /// <param name="provider">The provider the endpoint calls, so that accounts' own keys for it are used (see <see cref="IProviderKeyFeature"/>).</param>
    public static TBuilder MeterLlmUsage<TBuilder>(this TBuilder builder, LlmApiFormat format = LlmApiFormat.Auto, string? provider = null) where TBuilder : IEndpointConventionBuilder
        => builder.WithMetadata(new MeterLlmUsageAttribute { Format = format, Provider = provider }).WithProblems(MeteredProblems)
            .WithProblems(StatusCodes.Status403Forbidden, StatusCodes.Status413PayloadTooLarge);

    /// <summary>Meters the endpoints at the price named <paramref name="priceName"/> in the pricing catalog (configuration <c>UsageBilling:Pricing:Endpoints</c>).</summary>
    public static TBuilder WithPrice<TBuilder>(this TBuilder builder, string priceName) where TBuilder : IEndpointConventionBuilder
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(priceName);
        return builder.WithMetadata(new MeteredAttribute { PriceName = priceName }).WithProblems(MeteredProblems);
    }

    /// <summary>What admission can answer instead of running a metered endpoint (see <see cref="ProblemTypes"/>).</summary>
    private static readonly int[] MeteredProblems =
    [
        StatusCodes.Status400BadRequest, StatusCodes.Status401Unauthorized, StatusCodes.Status402PaymentRequired, StatusCodes.Status409Conflict,
        StatusCodes.Status422UnprocessableEntity, StatusCodes.Status429TooManyRequests, StatusCodes.Status503ServiceUnavailable,
    ];

    private static readonly string[] ProblemContentTypes = ["application/problem+json"];

    /// <summary>Declares RFC 9457 problem responses in the endpoints' OpenAPI description.</summary>
    private static TBuilder WithProblems<TBuilder>(this TBuilder builder, params int[] statusCodes) where TBuilder : IEndpointConventionBuilder
    {
        foreach (var status in statusCodes)
        {
            builder.WithMetadata(new ProducesResponseTypeMetadata(status, typeof(ProblemDetails), ProblemContentTypes));
        }

        return builder;
    }
}
