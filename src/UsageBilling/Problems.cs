using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;

namespace UsageBilling;

/// <summary>Writes RFC 9457 problem details, through <see cref="IProblemDetailsService"/> when the app has one, or an LLM API's error shape on LLM endpoints.</summary>
internal static class Problems
{
    /// <summary>Writes the problem; on an endpoint metered with an LLM API format, in that API's error shape instead (see <see cref="LlmErrorResponses"/>).</summary>
    public static async Task WriteAsync(HttpContext context, int status, string type, string title, string detail, IDictionary<string, object?>? extensions = null)
    {
        if (LlmErrorResponses.FormatOf(context) is { } format)
        {
            await LlmErrorResponses.WriteAsync(context, format, status, type, detail, extensions).ConfigureAwait(false);
            return;
        }

        var problem = new ProblemDetails { Status = status, Type = type, Title = title, Detail = detail };
        if (extensions is not null)
        {
            foreach (var (key, value) in extensions)
            {
                problem.Extensions[key] = value;
            }
        }

        context.Response.StatusCode = status;
        var service = context.RequestServices.GetService(typeof(IProblemDetailsService)) as IProblemDetailsService;
        if (service is null || !await service.TryWriteAsync(new ProblemDetailsContext { HttpContext = context, ProblemDetails = problem }).ConfigureAwait(false))
        {
            await context.Response.WriteAsJsonAsync(problem, options: null, contentType: "application/problem+json").ConfigureAwait(false);
        }
    }

    public static IResult Result(int status, string type, string title, string detail)
        => TypedResults.Problem(detail: detail, statusCode: status, title: title, type: type);

    public static IResult NotFound(string what) => Result(StatusCodes.Status404NotFound, ProblemTypes.NotFound, "Not Found", $"{what} was not found.");

    public static IResult Invalid(string field, string message)
        => TypedResults.ValidationProblem(new Dictionary<string, string[]> { [field] = [message] }, type: ProblemTypes.ValidationFailed, title: "The request is not valid.");
}
