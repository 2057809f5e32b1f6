using MongoDB.Driver;

namespace UsageBilling.Mongo;

/// <summary>
/// Options of the MongoDB stores (<c>UseMongo(...)</c>): where the database is, the collection names, and whether
/// the indexes are created at start-up (the default) or only checked.
/// </summary>
/// <remarks>
/// The database is taken from <see cref="Database"/>, else <see cref="DatabaseFactory"/>, else
/// <see cref="ConnectionString"/> with <see cref="DatabaseName"/>. The stores need MongoDB 5.0 or later (money moves
/// use update pipelines, 4.2+; usage summaries use <c>$setWindowFields</c>, 5.0+) and no replica set: every money
/// move is a single-document atomic update. A write concern of <c>majority</c> (in the connection string) keeps
/// acknowledged money moves through a failover.
/// </remarks>
public sealed class UsageBillingMongoOptions
{
    /// <summary>A MongoDB connection string, for example <c>mongodb://localhost:27017</c>. A client is created from it and owned by the stores.</summary>
    public string? ConnectionString { get; set; }

    /// <summary>The database to use with <see cref="ConnectionString"/>; defaults to the one named in the connection string, else <c>usagebilling</c>.</summary>
    public string? DatabaseName { get; set; }

    /// <summary>A database from a client the application owns.</summary>
    public IMongoDatabase? Database { get; set; }

    /// <summary>Resolves the database from the application's services (for example from a registered <see cref="IMongoClient"/>).</summary>
    public Func<IServiceProvider, IMongoDatabase>? DatabaseFactory { get; set; }

    /// <summary>The accounts collection. Default <c>billing_accounts</c>.</summary>
    public string AccountsCollectionName { get; set; } = "billing_accounts";

    /// <summary>The API keys collection. Default <c>billing_keys</c>.</summary>
    public string ApiKeysCollectionName { get; set; } = "billing_keys";

    /// <summary>The balances collection (one document per account with its balance and holds). Default <c>billing_balances</c>.</summary>
    public string BalancesCollectionName { get; set; } = "billing_balances";

    /// <summary>The reservations collection. Default <c>billing_reservations</c>.</summary>
    public string ReservationsCollectionName { get; set; } = "billing_reservations";

    /// <summary>The ledger collection. Default <c>billing_ledger</c>.</summary>
    public string LedgerCollectionName { get; set; } = "billing_ledger";

    /// <summary>The usage log collection. Default <c>billing_usage</c>.</summary>
    public string UsageCollectionName { get; set; } = "billing_usage";

    /// <summary>The rate-limit and quota counters collection. Default <c>billing_counters</c>.</summary>
    public string CountersCollectionName { get; set; } = "billing_counters";

    /// <summary>The collection of model prices set at run time. Default <c>billing_prices</c>.</summary>
    public string ModelPricesCollectionName { get; set; } = "billing_prices";

    /// <summary>The collection of accounts' own provider keys (encrypted; one per provider per account). Default <c>billing_provider_keys</c>.</summary>
    public string ProviderKeysCollectionName { get; set; } = "billing_provider_keys";

    /// <summary>
    /// Whether a hosted service runs <see cref="UsageBillingMongoIndexes.EnsureIndexesAsync"/> at start-up. Default
    /// <see langword="true"/>. Turn it off to create the indexes in a deployment step instead (the application's user
    /// then needs no index privileges): start-up then checks with <c>listIndexes</c> that every unique index the
    /// stores rely on for idempotency exists, and fails, naming the missing ones, if not.
    /// </summary>
    public bool CreateIndexesOnStartup { get; set; } = true;

    /// <summary>
    /// How old a ledger entry claim must be before repair treats its writer as gone and drops the claim (no money
    /// has moved for a claim). Default 1 minute; must exceed the longest time one store call can take.
    /// </summary>
    public TimeSpan AbandonedClaimTimeout { get; set; } = TimeSpan.FromMinutes(1);
}
