using Microsoft.Extensions.DependencyInjection;
using UsageBilling;

namespace Microsoft.AspNetCore.Builder;

/// <summary>Adds the UsageBilling middleware.</summary>
public static class UsageBillingApplicationBuilderExtensions
{
    /// <summary>
    /// Adds the metering middleware: limits, credit reservation and settlement, and the usage log for endpoints
    /// marked with <c>.WithCost()</c>, <c>.WithPrice()</c> or <see cref="MeteredAttribute"/>. Call it after
    /// <c>UseAuthentication()</c> and <c>UseAuthorization()</c>.
    /// </summary>
    /// <exception cref="InvalidOperationException"><c>AddUsageBilling()</c> was not called.</exception>
    public static IApplicationBuilder UseUsageBilling(this IApplicationBuilder app)
    {
        ArgumentNullException.ThrowIfNull(app);
        if (app.ApplicationServices.GetService<UsageBillingMarker>() is null)
        {
            throw new InvalidOperationException(
                "Unable to find the required services. Add them by calling 'builder.Services.AddUsageBilling(...)' in the application's start-up code before calling 'app.UseUsageBilling()'.");
        }

        return app.UseMiddleware<UsageBillingMiddleware>();
    }
}
