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

/// <summary>
/// The OpenAPI schema of a query parameter the handler reads as text (so that a bad value is a 400 problem with
/// <c>errors</c>, not the framework's binding failure): an integer with bounds, or a date-time.
/// </summary>
internal sealed record QueryParameterMetadata(string Name, string Description, int? Minimum = null, int? Maximum = null, int? Default = null)
{
    public bool IsDateTime => Minimum is null;
}

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

    /// <summary>Describes <c>from</c> and <c>to</c> as the ISO 8601 date-times of a half-open period.</summary>
    public static RouteHandlerBuilder QueryPeriod(this RouteHandlerBuilder builder, string defaults)
        => builder.WithMetadata(
            new QueryParameterMetadata("from", $"Start of the period [from, to), inclusive, ISO 8601 (UTC when no offset is given); {defaults}."),
            new QueryParameterMetadata("to", $"End of the period [from, to), exclusive, ISO 8601 (UTC when no offset is given); {defaults}."));

    /// <summary>Describes <c>limit</c>, a page size from 1 to <see cref="EndpointHelpers.MaxPageSize"/>.</summary>
    public static RouteHandlerBuilder QueryPageSize(this RouteHandlerBuilder builder, int @default, string what)
        => builder.WithMetadata(new QueryParameterMetadata("limit", $"How many {what}, from 1 to {EndpointHelpers.MaxPageSize} (default {@default}).",
            1, EndpointHelpers.MaxPageSize, @default));

    /// <summary>Declares a JSON response of type <typeparamref name="TResponse"/>.</summary>
    public static TBuilder ProducesJson<TBuilder, TResponse>(this TBuilder builder, int statusCode = StatusCodes.Status200OK) where TBuilder : IEndpointConventionBuilder
        => builder.WithMetadata(new ProducesResponseTypeMetadata(statusCode, typeof(TResponse), ["application/json"]));
}
