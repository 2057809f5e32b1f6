using Microsoft.Extensions.Diagnostics.HealthChecks;
using UsageBilling;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Adds UsageBilling's health check.</summary>
public static class UsageBillingHealthChecksBuilderExtensions
{
    /// <summary>
    /// Adds the <c>usagebilling</c> check: Unhealthy when the credit, counter, API-key or account store does not answer
    /// (metered calls are then answered 503), Degraded while completions wait for a store, the usage log's queue is over
    /// 80 % full, for an hour after a usage record was dead-lettered, or when the reservation sweeper has not finished a
    /// sweep for three sweep intervals. Map it with <c>app.MapHealthChecks("/health")</c>.
    /// </summary>
    /// <param name="builder">The health checks builder.</param>
    /// <param name="name">The check's name.</param>
    /// <param name="tags">Tags to filter the check by (for example <c>ready</c>).</param>
    public static IHealthChecksBuilder AddUsageBilling(this IHealthChecksBuilder builder, string name = "usagebilling", IEnumerable<string>? tags = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder.AddCheck<UsageBillingHealthCheck>(name, HealthStatus.Unhealthy, tags ?? [], timeout: TimeSpan.FromSeconds(5));
    }
}
