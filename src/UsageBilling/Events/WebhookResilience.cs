using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Http.Resilience;
using Microsoft.Extensions.Options;
using Polly;

namespace UsageBilling;

/// <summary>Marks that the webhook client and its resilience pipeline are registered (once, however often <c>AddWebhookNotifier</c> is called).</summary>
internal sealed class WebhookDeliveryMarker;

/// <summary>
/// The webhook client's resilience pipeline, from <see cref="WebhookOptions"/>: retries (exponential backoff with
/// jitter from <see cref="WebhookOptions.RetryDelay"/>, <c>Retry-After</c> honoured, <see cref="WebhookOptions.MaxAttempts"/>
/// in all), a circuit breaker that stops hammering a receiver that keeps failing, and a timeout per attempt.
/// </summary>
internal static class WebhookResilience
{
    public static IHttpClientBuilder AddWebhookResilience(this IHttpClientBuilder client)
    {
        client.AddResilienceHandler("usagebilling-webhook", static (pipeline, context) =>
        {
            var options = context.ServiceProvider.GetRequiredService<IOptionsMonitor<WebhookOptions>>().CurrentValue;
            context.EnableReloads<WebhookOptions>();
            if (options.MaxAttempts > 1)
            {
                pipeline.AddRetry(new HttpRetryStrategyOptions
                {
                    MaxRetryAttempts = options.MaxAttempts - 1,
                    BackoffType = DelayBackoffType.Exponential,
                    UseJitter = true,
                    Delay = options.RetryDelay,
                    ShouldRetryAfterHeader = true,
                });
            }

            pipeline.AddCircuitBreaker(new HttpCircuitBreakerStrategyOptions
            {
                FailureRatio = 0.9,
                MinimumThroughput = 20,
                SamplingDuration = TimeSpan.FromMinutes(1),
                BreakDuration = TimeSpan.FromSeconds(30),
            });
            pipeline.AddTimeout(options.Timeout);
        });
        return client;
    }
}
