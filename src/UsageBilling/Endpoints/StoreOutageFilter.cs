using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace UsageBilling;

/// <summary>
/// Answers 503 <c>store-unavailable</c> with <c>Retry-After</c> when a billing store fails under an admin or
/// self-service endpoint (a refused connection, a timeout, a full pool), instead of an empty 500.
/// </summary>
internal static partial class StoreOutageFilter
{
    public static async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        try
        {
            return await next(context).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not (OperationCanceledException or BadHttpRequestException or ArgumentException or FormatException) && !context.HttpContext.Response.HasStarted)
        {
            var logger = context.HttpContext.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(StoreOutageFilter));
            Log.StoreUnavailable(logger, ex, context.HttpContext.Request.Path);
            context.HttpContext.Response.Headers.RetryAfter = "5";
            return Problems.Result(StatusCodes.Status503ServiceUnavailable, ProblemTypes.StoreUnavailable, "Service Unavailable",
                "A billing store could not be reached; nothing was changed. Retry later.");
        }
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Error, "A billing store failed under {Path}; answered 503.", EventName = "EndpointStoreUnavailable")]
        public static partial void StoreUnavailable(ILogger logger, Exception exception, PathString path);
    }
}
