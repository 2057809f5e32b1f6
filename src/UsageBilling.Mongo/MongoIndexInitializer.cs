using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace UsageBilling.Mongo;

/// <summary>Runs <see cref="UsageBillingMongoIndexes.EnsureIndexesAsync"/> at start-up when <see cref="UsageBillingMongoOptions.CreateIndexesOnStartup"/> is set.</summary>
internal sealed partial class MongoIndexInitializer(
    UsageBillingMongoIndexes indexes, IOptions<UsageBillingMongoOptions> options, ILogger<MongoIndexInitializer> logger) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (!options.Value.CreateIndexesOnStartup)
        {
            return;
        }

        await indexes.EnsureIndexesAsync(cancellationToken).ConfigureAwait(false);
        Log.IndexesEnsured(logger);
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Information, "UsageBilling MongoDB indexes are in place.", EventName = "MongoIndexesEnsured")]
        public static partial void IndexesEnsured(ILogger logger);
    }
}
