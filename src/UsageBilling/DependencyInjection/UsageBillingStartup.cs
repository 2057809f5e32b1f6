using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace UsageBilling;

/// <summary>Marks that <c>AddUsageBilling()</c> ran, so <c>UseUsageBilling()</c> can say what is missing.</summary>
internal sealed class UsageBillingMarker;

/// <summary>Logs which stores are in use, loudly when they are the in-memory ones.</summary>
internal sealed partial class UsageBillingStartup(IServiceProvider services, ILogger<UsageBillingStartup> logger) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        // Load the price catalog now so that a broken price file stops start-up instead of failing calls.
        var prices = await services.GetRequiredService<IPricingCatalog>().ListModelPricesAsync(services.GetRequiredService<TimeProvider>().GetUtcNow(), cancellationToken).ConfigureAwait(false);
        Log.Prices(logger, prices.Count);
        var credits = services.GetRequiredService<ICreditStore>();
        if (credits is InMemoryCreditStore)
        {
            Log.InMemory(logger);
        }
        else
        {
            Log.Backend(logger, credits.GetType().Name);
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Warning, "UsageBilling is using the in-memory stores: balances, keys and usage are lost when the process stops. Choose a backend such as UseEntityFrameworkCore() for anything but development and tests.", EventName = "InMemoryStores")]
        public static partial void InMemory(ILogger logger);

        [LoggerMessage(2, LogLevel.Information, "UsageBilling is using the credit store {Store}.", EventName = "Backend")]
        public static partial void Backend(ILogger logger, string store);

        [LoggerMessage(3, LogLevel.Information, "UsageBilling has token prices for {Count} models.", EventName = "ModelPrices")]
        public static partial void Prices(ILogger logger, int count);
    }
}
