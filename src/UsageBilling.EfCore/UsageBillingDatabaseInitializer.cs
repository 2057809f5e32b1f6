using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace UsageBilling.EntityFrameworkCore;

/// <summary>
/// Creates the database and its tables at start-up when <see cref="UsageBillingEntityFrameworkCoreOptions.CreateDatabaseOnStartup"/>
/// is set. Registered ahead of the other hosted services, so the tables exist before the usage-log writer or the
/// reservation sweeper first touch them.
/// </summary>
internal sealed partial class UsageBillingDatabaseInitializer<TContext> : IHostedService where TContext : DbContext
{
    private readonly BillingDatabase<TContext> _database;
    private readonly IOptions<UsageBillingEntityFrameworkCoreOptions> _options;
    private readonly ILogger _logger;

    public UsageBillingDatabaseInitializer(BillingDatabase<TContext> database, IOptions<UsageBillingEntityFrameworkCoreOptions> options,
        ILogger<UsageBillingDatabaseInitializer<TContext>> logger)
    {
        _database = database;
        _options = options;
        _logger = logger;
    }

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (!_options.Value.CreateDatabaseOnStartup)
        {
            return;
        }

        await using var lease = await _database.LeaseAsync(cancellationToken).ConfigureAwait(false);
        var created = await lease.Context.Database.EnsureCreatedAsync(cancellationToken).ConfigureAwait(false);
        Log.Ensured(_logger, typeof(TContext).Name, created);
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Information, "UsageBilling database of {Context}: created = {Created} (existing databases are left as they are).", EventName = "DatabaseEnsured")]
        public static partial void Ensured(ILogger logger, string context, bool created);
    }
}
