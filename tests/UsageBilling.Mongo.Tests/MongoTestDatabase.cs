using MongoDB.Driver;

namespace UsageBilling.Mongo.Tests;

/// <summary>
/// A database of its own for one test class on the server named by <c>USAGEBILLING_MONGO_URI</c>, with the indexes
/// created, dropped when the class is done. Without the variable every test that asks for it is skipped, visibly.
/// </summary>
public sealed class MongoTestDatabase : IAsyncLifetime
{
    public const string UriVariable = "USAGEBILLING_MONGO_URI";

    private static readonly string? Uri = Environment.GetEnvironmentVariable(UriVariable) is { Length: > 0 } uri ? uri : null;

    private MongoClient? _client;
    private MongoBillingDatabase? _database;

    public string DatabaseName { get; } = $"usagebilling_test_{Guid.NewGuid():N}";

    public async Task InitializeAsync()
    {
        if (Uri is null)
        {
            return;
        }

        // The suite starts up to 1000 operations at once. The driver lets only 500 operations wait for a pooled
        // connection (a fixed default, whatever the pool size) and refuses the rest with MongoWaitQueueFullException
        // before they reach the server. The setting is marked obsolete because the limit is to go away; until then,
        // lift it here rather than lowering the suite's concurrency.
        var settings = MongoClientSettings.FromConnectionString(Uri);
#pragma warning disable CS0618
        settings.WaitQueueSize = 10_000;
#pragma warning restore CS0618
        _client = new MongoClient(settings);
        _database = new MongoBillingDatabase(_client.GetDatabase(DatabaseName), new UsageBillingMongoOptions());
        await new UsageBillingMongoIndexes(_database).EnsureIndexesAsync();
    }

    public async Task DisposeAsync()
    {
        if (_client is null)
        {
            return;
        }

        await _client.DropDatabaseAsync(DatabaseName);
        _client.Dispose();
    }

    /// <summary>The database, or a skip (with the reason) when no server is configured.</summary>
    internal MongoBillingDatabase Require()
    {
        Skip.If(_database is null, $"No MongoDB server: set {UriVariable} (for example mongodb://localhost:27017) to run the store conformance suite against one.");
        return _database!;
    }
}
