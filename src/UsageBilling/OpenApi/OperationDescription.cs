using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.AspNetCore.Mvc;

namespace UsageBilling;

/// <summary>
/// The OpenAPI operation id of a UsageBilling endpoint. Kept apart from <c>WithName</c> (endpoint names must be
/// unique for link generation, and an app may map the same endpoints under two prefixes).
/// </summary>
internal sealed record OperationIdMetadata(string OperationId);

/// <summary>How UsageBilling's own endpoints describe themselves in the app's OpenAPI document.</summary>
internal static class OperationDescription
{
    private static readonly string[] ProblemContentTypes = ["application/problem+json"];

    /// <summary>Sets the operation id and summary.</summary>
    public static TBuilder Describe<TBuilder>(this TBuilder builder, string operationId, string summary) where TBuilder : IEndpointConventionBuilder
        => builder.WithMetadata(new OperationIdMetadata(operationId)).WithSummary(summary);

    /// <summary>Declares a JSON request body of type <typeparamref name="TRequest"/> (the handler reads it itself, so that bad JSON is a 400 problem).</summary>
    public static RouteHandlerBuilder AcceptsJson<TRequest>(this RouteHandlerBuilder builder) where TRequest : notnull
        => builder.Accepts<TRequest>("application/json");

    /// <summary>Declares problem responses (RFC 9457); 400 is a validation problem with its <c>errors</c>.</summary>
    public static TBuilder ProducesProblems<TBuilder>(this TBuilder builder, params int[] statusCodes) where TBuilder : IEndpointConventionBuilder
    {
        foreach (var status in statusCodes)
        {
            var type = status == StatusCodes.Status400BadRequest ? typeof(HttpValidationProblemDetails) : typeof(ProblemDetails);
            builder.WithMetadata(new ProducesResponseTypeMetadata(status, type, ProblemContentTypes));
        }

        return builder;
    }

    /// <summary>Declares a JSON response of type <typeparamref name="TResponse"/>.</summary>
    public static TBuilder ProducesJson<TBuilder, TResponse>(this TBuilder builder, int statusCode = StatusCodes.Status200OK) where TBuilder : IEndpointConventionBuilder
        => builder.WithMetadata(new ProducesResponseTypeMetadata(statusCode, typeof(TResponse), ["application/json"]));
}
