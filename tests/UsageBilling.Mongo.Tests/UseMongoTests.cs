using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using MongoDB.Driver;

namespace UsageBilling.Mongo.Tests;

/// <summary>How <c>UseMongo(...)</c> registers the backend. No server is contacted: the driver connects on first use.</summary>
public sealed class UseMongoTests
{
    [Fact]
    public void UseMongo_replaces_every_in_memory_store()
    {
        using var provider = Build(b => b.UseMongo("mongodb://localhost:27017", "usagebilling"));

        Assert.IsType<MongoAccountStore>(ObservedStores.Unwrap(provider.GetRequiredService<IAccountStore>()));
        Assert.IsType<MongoApiKeyStore>(ObservedStores.Unwrap(provider.GetRequiredService<IApiKeyStore>()));
        Assert.IsType<MongoCreditStore>(provider.GetRequiredService<ICreditStore>());
        Assert.IsType<MongoUsageStore>(ObservedStores.Unwrap(provider.GetRequiredService<IUsageStore>()));
        Assert.IsType<MongoRateLimitCounterStore>(ObservedStores.Unwrap(provider.GetRequiredService<ICounterStore>()));
        Assert.IsType<MongoModelPriceStore>(ObservedStores.Unwrap(provider.GetRequiredService<IModelPriceStore>()));
        Assert.IsType<MongoProviderKeyStore>(ObservedStores.Unwrap(provider.GetRequiredService<IProviderKeyStore>()));
        Assert.Equal("billing_provider_keys", provider.GetRequiredService<MongoBillingDatabase>().ProviderKeys.CollectionNamespace.CollectionName);
        Assert.Equal("usagebilling", provider.GetRequiredService<MongoBillingDatabase>().Database.DatabaseNamespace.DatabaseName);
    }

    [Fact]
    public void UseMongo_twice_registers_each_service_once()
    {
        var services = new ServiceCollection();
        var builder = services.AddLogging().AddUsageBilling();
        builder.UseMongo("mongodb://localhost:27017", "usagebilling");
        builder.UseMongo("mongodb://localhost:27017", "usagebilling");

        Assert.Single(services, d => d.ServiceType == typeof(ICreditStore));
        Assert.Single(services, d => d.ServiceType == typeof(MongoCreditStore));
        Assert.Single(services, d => d.ServiceType == typeof(MongoBillingDatabase));
        Assert.Single(services, d => d.ServiceType == typeof(IHostedService) && d.ImplementationType == typeof(MongoIndexInitializer));
    }

    [Fact]
    public void The_database_can_come_from_the_application_and_collections_can_be_renamed()
    {
        using var client = new MongoClient("mongodb://localhost:27017");
        var database = client.GetDatabase("billing_app");
        using var provider = Build(b => b.UseMongo(_ => database, o => o.LedgerCollectionName = "ledger_v2"));

        var resolved = provider.GetRequiredService<MongoBillingDatabase>();
        Assert.Same(database, resolved.Database);
        Assert.Equal("ledger_v2", resolved.Ledger.CollectionNamespace.CollectionName);
        Assert.Equal("billing_accounts", resolved.Accounts.CollectionNamespace.CollectionName);
    }

    [Fact]
    public void The_database_name_falls_back_to_the_connection_string()
    {
        using var provider = Build(b => b.UseMongo(o => o.ConnectionString = "mongodb://localhost:27017/fromurl"));
        Assert.Equal("fromurl", provider.GetRequiredService<MongoBillingDatabase>().Database.DatabaseNamespace.DatabaseName);
    }

    [Fact]
    public void Options_without_a_database_or_with_clashing_collections_are_refused()
    {
        using var none = Build(b => b.UseMongo(o => o.CreateIndexesOnStartup = true));
        var missing = Assert.Throws<OptionsValidationException>(() => none.GetRequiredService<IOptions<UsageBillingMongoOptions>>().Value);
        Assert.Contains("needs a database", missing.Message, StringComparison.Ordinal);

        using var clash = Build(b => b.UseMongo("mongodb://localhost:27017", "db", o => o.UsageCollectionName = o.LedgerCollectionName));
        var clashing = Assert.Throws<OptionsValidationException>(() => clash.GetRequiredService<IOptions<UsageBillingMongoOptions>>().Value);
        Assert.Contains("must all differ", clashing.Message, StringComparison.Ordinal);

        using var keysClash = Build(b => b.UseMongo("mongodb://localhost:27017", "db", o => o.ProviderKeysCollectionName = o.ApiKeysCollectionName));
        Assert.Throws<OptionsValidationException>(() => keysClash.GetRequiredService<IOptions<UsageBillingMongoOptions>>().Value);
    }

    [Fact]
    public async Task Start_up_creates_the_indexes_by_default_and_checks_them_when_creation_is_off()
    {
        Assert.True(new UsageBillingMongoOptions().CreateIndexesOnStartup);

        // The connection string points at a port nothing listens on: both creating and listing indexes fail the start.
        await using var eager = Build(b => b.UseMongo("mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=200&connectTimeoutMS=200", "db"));
        var eagerInitializer = eager.GetServices<IHostedService>().OfType<MongoIndexInitializer>().Single();
        await Assert.ThrowsAsync<TimeoutException>(() => eagerInitializer.StartAsync(CancellationToken.None));

        await using var checking = Build(b => b.UseMongo("mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=200&connectTimeoutMS=200", "db", o => o.CreateIndexesOnStartup = false));
        var checkingInitializer = checking.GetServices<IHostedService>().OfType<MongoIndexInitializer>().Single();
        await Assert.ThrowsAsync<TimeoutException>(() => checkingInitializer.StartAsync(CancellationToken.None));
    }

    private static ServiceProvider Build(Action<UsageBillingBuilder> useMongo)
    {
        var services = new ServiceCollection();
        useMongo(services.AddLogging().AddUsageBilling());
        return services.BuildServiceProvider();
    }
}
