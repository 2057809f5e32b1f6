using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using MongoDB.Driver;
using UsageBilling;
using UsageBilling.Mongo;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Chooses MongoDB (the official driver) as the UsageBilling backend.</summary>
/// <remarks>
/// Every store (accounts, API keys, credits, usage log, rate-limit counters, run-time model prices, accounts' own
/// provider keys) replaces its in-memory default. Calling <c>UseMongo</c> twice is harmless. A sample can switch
/// backend by configuration, for example:
/// <code>
/// var billing = builder.Services.AddUsageBilling(builder.Configuration.GetSection("UsageBilling"));
/// if (builder.Configuration.GetConnectionString("UsageBillingMongo") is { Length: &gt; 0 } mongo)
/// {
///     billing.UseMongo(mongo, "usagebilling"); // creates its indexes at start-up (CreateIndexesOnStartup)
/// }
/// </code>
/// with <c>ConnectionStrings:UsageBillingMongo</c> set to, say, <c>mongodb://localhost:27017</c>.
/// </remarks>
public static class UsageBillingMongoExtensions
{
    /// <summary>Stores everything in <paramref name="databaseName"/> on the server named by <paramref name="connectionString"/>.</summary>
    /// <param name="builder">The builder returned by <c>AddUsageBilling()</c>.</param>
    /// <param name="connectionString">A MongoDB connection string, for example <c>mongodb://localhost:27017</c>.</param>
    /// <param name="databaseName">The database, for example <c>usagebilling</c>.</param>
    /// <param name="configure">Further options (collection names, <see cref="UsageBillingMongoOptions.CreateIndexesOnStartup"/>).</param>
    public static UsageBillingBuilder UseMongo(this UsageBillingBuilder builder, string connectionString, string databaseName, Action<UsageBillingMongoOptions>? configure = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(connectionString);
        ArgumentException.ThrowIfNullOrWhiteSpace(databaseName);
        return builder.UseMongo(o =>
        {
            o.ConnectionString = connectionString;
            o.DatabaseName = databaseName;
            configure?.Invoke(o);
        });
    }

    /// <summary>Stores everything in <paramref name="database"/>, whose client the application owns.</summary>
    /// <param name="builder">The builder returned by <c>AddUsageBilling()</c>.</param>
    /// <param name="database">The database.</param>
    /// <param name="configure">Further options.</param>
    public static UsageBillingBuilder UseMongo(this UsageBillingBuilder builder, IMongoDatabase database, Action<UsageBillingMongoOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(database);
        return builder.UseMongo(o =>
        {
            o.Database = database;
            configure?.Invoke(o);
        });
    }

    /// <summary>Stores everything in the database <paramref name="databaseFactory"/> resolves from the application's services.</summary>
    /// <param name="builder">The builder returned by <c>AddUsageBilling()</c>.</param>
    /// <param name="databaseFactory">Resolves the database, for example <c>sp =&gt; sp.GetRequiredService&lt;IMongoClient&gt;().GetDatabase("usagebilling")</c>.</param>
    /// <param name="configure">Further options.</param>
    public static UsageBillingBuilder UseMongo(this UsageBillingBuilder builder, Func<IServiceProvider, IMongoDatabase> databaseFactory, Action<UsageBillingMongoOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(databaseFactory);
        return builder.UseMongo(o =>
        {
            o.DatabaseFactory = databaseFactory;
            configure?.Invoke(o);
        });
    }

    /// <summary>Stores everything in MongoDB as <paramref name="configure"/> says (it must name a database; see <see cref="UsageBillingMongoOptions"/>).</summary>
    /// <param name="builder">The builder returned by <c>AddUsageBilling()</c>.</param>
    /// <param name="configure">Sets the database and any other option.</param>
    public static UsageBillingBuilder UseMongo(this UsageBillingBuilder builder, Action<UsageBillingMongoOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(configure);
        var services = builder.Services;
        services.AddOptions<UsageBillingMongoOptions>().Configure(configure).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<UsageBillingMongoOptions>, UsageBillingMongoOptionsValidator>());
        services.TryAddSingleton(static sp => MongoBillingDatabase.Create(sp.GetRequiredService<IOptions<UsageBillingMongoOptions>>().Value, sp));
        services.TryAddSingleton(static sp => new UsageBillingMongoIndexes(sp.GetRequiredService<MongoBillingDatabase>()));
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, MongoIndexInitializer>());
        return builder
            .ReplaceStore<IAccountStore, MongoAccountStore>()
            .ReplaceStore<IApiKeyStore, MongoApiKeyStore>()
            .ReplaceStore<ICreditStore, MongoCreditStore>()
            .ReplaceStore<IUsageStore, MongoUsageStore>()
            .ReplaceStore<ICounterStore, MongoRateLimitCounterStore>()
            .ReplaceStore<IModelPriceStore, MongoModelPriceStore>()
            .ReplaceStore<IProviderKeyStore, MongoProviderKeyStore>();
    }
}
