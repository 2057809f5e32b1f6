using MongoDB.Driver;

namespace UsageBilling.Mongo;

/// <summary>The database and typed collections the stores share; owns the client when it made one from a connection string.</summary>
internal sealed class MongoBillingDatabase : IDisposable
{
    private readonly MongoClient? _ownedClient;

    public MongoBillingDatabase(IMongoDatabase database, UsageBillingMongoOptions options, MongoClient? ownedClient = null)
    {
        ArgumentNullException.ThrowIfNull(database);
        ArgumentNullException.ThrowIfNull(options);
        Database = database;
        Options = options;
        _ownedClient = ownedClient;
        Accounts = database.GetCollection<AccountDocument>(options.AccountsCollectionName);
        ApiKeys = database.GetCollection<ApiKeyDocument>(options.ApiKeysCollectionName);
        Balances = database.GetCollection<BalanceDocument>(options.BalancesCollectionName);
        Reservations = database.GetCollection<ReservationDocument>(options.ReservationsCollectionName);
        Ledger = database.GetCollection<LedgerEntryDocument>(options.LedgerCollectionName);
        Usage = database.GetCollection<UsageRecordDocument>(options.UsageCollectionName);
        Counters = database.GetCollection<CounterDocument>(options.CountersCollectionName);
        ModelPrices = database.GetCollection<ModelPriceDocument>(options.ModelPricesCollectionName);
        ProviderKeys = database.GetCollection<ProviderKeyDocument>(options.ProviderKeysCollectionName);
    }

    public UsageBillingMongoOptions Options { get; }

    public IMongoDatabase Database { get; }

    public IMongoCollection<AccountDocument> Accounts { get; }

    public IMongoCollection<ApiKeyDocument> ApiKeys { get; }

    public IMongoCollection<BalanceDocument> Balances { get; }

    public IMongoCollection<ReservationDocument> Reservations { get; }

    public IMongoCollection<LedgerEntryDocument> Ledger { get; }

    public IMongoCollection<UsageRecordDocument> Usage { get; }

    public IMongoCollection<CounterDocument> Counters { get; }

    public IMongoCollection<ModelPriceDocument> ModelPrices { get; }

    public IMongoCollection<ProviderKeyDocument> ProviderKeys { get; }

    /// <summary>Resolves the database the options name: <see cref="UsageBillingMongoOptions.Database"/>, the factory, or a new client.</summary>
    public static MongoBillingDatabase Create(UsageBillingMongoOptions options, IServiceProvider services)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.Database is not null)
        {
            return new MongoBillingDatabase(options.Database, options);
        }

        if (options.DatabaseFactory is not null)
        {
            var database = options.DatabaseFactory(services)
                ?? throw new InvalidOperationException("UsageBillingMongoOptions.DatabaseFactory returned null.");
            return new MongoBillingDatabase(database, options);
        }

        var url = MongoUrl.Create(options.ConnectionString);
        var client = new MongoClient(url);
        return new MongoBillingDatabase(client.GetDatabase(options.DatabaseName ?? url.DatabaseName ?? "usagebilling"), options, client);
    }

    public void Dispose() => _ownedClient?.Dispose();
}
