using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace UsageBilling.Mongo;

/// <summary>
/// At start-up, runs <see cref="UsageBillingMongoIndexes.EnsureIndexesAsync"/> when
/// <see cref="UsageBillingMongoOptions.CreateIndexesOnStartup"/> is set (the default); otherwise checks that the unique
/// indexes exist and fails the start, naming the missing ones, if not — as the EF Core stores refuse a missing schema.
/// </summary>
internal sealed partial class MongoIndexInitializer(
    UsageBillingMongoIndexes indexes, IOptions<UsageBillingMongoOptions> options, ILogger<MongoIndexInitializer> logger) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (!options.Value.CreateIndexesOnStartup)
        {
            await indexes.VerifyUniqueIndexesAsync(cancellationToken).ConfigureAwait(false);
            Log.IndexesVerified(logger);
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

        [LoggerMessage(2, LogLevel.Information, "UsageBilling MongoDB unique indexes are in place (checked; creation at start-up is off).", EventName = "MongoIndexesVerified")]
        public static partial void IndexesVerified(ILogger logger);
    }
}
