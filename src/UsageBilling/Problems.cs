using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;

namespace UsageBilling;

/// <summary>Writes RFC 9457 problem details, through <see cref="IProblemDetailsService"/> when the app has one.</summary>
internal static class Problems
{
    public static async Task WriteAsync(HttpContext context, int status, string type, string title, string detail, IDictionary<string, object?>? extensions = null)
    {
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
