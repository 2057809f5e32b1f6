using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using MongoDB.Bson;
using MongoDB.Driver;
using static UsageBilling.Mongo.UsageBillingMongoIndexes;

namespace UsageBilling.Mongo.Tests;

/// <summary>
/// With index creation at start-up turned off, start-up checks the unique indexes the stores rely on: which are
/// required, and how the index documents <c>listIndexes</c> returns are judged. The last test needs a server.
/// </summary>
public sealed class IndexCheckTests
{
    private static readonly IReadOnlyList<RequiredIndex> Required = RequiredUniqueIndexes(new UsageBillingMongoOptions());

    [Fact]
    public void The_required_indexes_are_the_unique_ones_in_the_configured_collections()
    {
        Assert.Equal(
        [
            "billing_keys hash_unique { \"hash\" : 1 }",
            "billing_reservations account_key_unique { \"acct\" : 1, \"key\" : 1 }",
            "billing_ledger account_key_unique { \"acct\" : 1, \"key\" : 1 }",
            "billing_ledger account_sequence_unique { \"acct\" : 1, \"seq\" : -1 }",
            "billing_provider_keys account_provider_unique { \"acct\" : 1, \"prov\" : 1 }",
        ], Required.Select(i => $"{i.Collection} {i.Name} {i.Keys.ToJson()}"));

        var renamed = RequiredUniqueIndexes(new UsageBillingMongoOptions { LedgerCollectionName = "money" });
        Assert.Equal(2, renamed.Count(i => i.Collection == "money"));
    }

    [Fact]
    public void Indexes_as_ensure_creates_them_pass()
        => Assert.Empty(FindMissing(Required, AsCreated()));

    [Fact]
    public void A_missing_index_and_a_missing_collection_are_named()
    {
        var existing = AsCreated();
        existing["billing_ledger"] = [Index("_id_", """{ "_id": 1 }"""), Index("account_key_unique", """{ "acct": 1, "key": 1 }""", unique: true)];
        existing.Remove("billing_provider_keys");

        var problems = FindMissing(Required, existing);

        Assert.Equal(2, problems.Count);
        Assert.Equal("""billing_ledger: unique index 'account_sequence_unique' { "acct" : 1, "seq" : -1 } is missing""", problems[0]);
        Assert.Equal("""billing_provider_keys: unique index 'account_provider_unique' { "acct" : 1, "prov" : 1 } is missing""", problems[1]);
    }

    [Fact]
    public void A_non_unique_or_partial_index_on_the_same_keys_does_not_count()
    {
        var existing = AsCreated();
        existing["billing_keys"] = [Index("_id_", """{ "_id": 1 }"""), Index("hash_1", """{ "hash": 1 }""")];
        existing["billing_reservations"] = [Index("account_key_unique", """{ "acct": 1, "key": 1 }""", unique: true, partial: true)];

        var problems = FindMissing(Required, existing);

        Assert.Equal(
        [
            """billing_keys: unique index 'hash_unique' { "hash" : 1 } exists as 'hash_1' but is not unique""",
            """billing_reservations: unique index 'account_key_unique' { "acct" : 1, "key" : 1 } exists as 'account_key_unique' but is partial""",
        ], problems);
    }

    [Fact]
    public void Keys_in_another_order_or_direction_do_not_count_but_another_name_or_a_double_direction_does()
    {
        var existing = AsCreated();
        existing["billing_ledger"] =
        [
            Index("account_key_unique", """{ "key": 1, "acct": 1 }""", unique: true),
            Index("account_sequence_unique", """{ "acct": 1, "seq": 1 }""", unique: true),
        ];
        existing["billing_provider_keys"] = [Index("made_by_hand", """{ "acct": 1.0, "prov": 1.0 }""", unique: true)];

        var problems = FindMissing(Required, existing);

        Assert.Equal(
        [
            """billing_ledger: unique index 'account_key_unique' { "acct" : 1, "key" : 1 } has other keys: { "key" : 1, "acct" : 1 }""",
            """billing_ledger: unique index 'account_sequence_unique' { "acct" : 1, "seq" : -1 } has other keys: { "acct" : 1, "seq" : 1 }""",
        ], problems);
    }

    [Fact]
    public void The_start_up_message_names_the_database_the_problems_and_the_option()
    {
        var message = MissingMessage("billing", ["billing_keys: unique index 'hash_unique' { \"hash\" : 1 } is missing"]);

        Assert.Contains("database 'billing'", message, StringComparison.Ordinal);
        Assert.Contains("'hash_unique'", message, StringComparison.Ordinal);
        Assert.Contains("CreateIndexesOnStartup", message, StringComparison.Ordinal);
        Assert.Contains("EnsureIndexesAsync", message, StringComparison.Ordinal);
    }

    [SkippableFact]
    public async Task Without_index_creation_the_app_refuses_to_start_until_the_unique_indexes_exist()
    {
        var uri = Environment.GetEnvironmentVariable(MongoTestDatabase.UriVariable);
        Skip.If(string.IsNullOrEmpty(uri), $"No MongoDB server: set {MongoTestDatabase.UriVariable} to run this test.");
        var databaseName = $"usagebilling_test_{Guid.NewGuid():N}";
        using var client = new MongoClient(uri);
        try
        {
            // A deployment made a plain index where a unique one belongs, and none of the others.
            await client.GetDatabase(databaseName).GetCollection<BsonDocument>("billing_keys").Indexes.CreateOneAsync(
                new CreateIndexModel<BsonDocument>(new BsonDocument("hash", 1), new CreateIndexOptions { Name = "hash_1" }));

            var refused = await Assert.ThrowsAsync<InvalidOperationException>(() => StartAsync(uri!, databaseName));
            Assert.Contains("'hash_unique' { \"hash\" : 1 } exists as 'hash_1' but is not unique", refused.Message, StringComparison.Ordinal);
            Assert.Contains("'account_sequence_unique'", refused.Message, StringComparison.Ordinal);
            Assert.Contains("CreateIndexesOnStartup", refused.Message, StringComparison.Ordinal);

            await client.GetDatabase(databaseName).GetCollection<BsonDocument>("billing_keys").Indexes.DropOneAsync("hash_1");
            await new UsageBillingMongoIndexes(client.GetDatabase(databaseName)).EnsureIndexesAsync();
            await StartAsync(uri!, databaseName);
        }
        finally
        {
            await client.DropDatabaseAsync(databaseName);
        }
    }

    private static async Task StartAsync(string uri, string databaseName)
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Services.AddUsageBilling().UseMongo(uri, databaseName, o => o.CreateIndexesOnStartup = false);
        using var host = builder.Build();
        await host.StartAsync();
        await host.StopAsync();
    }

    /// <summary>The index documents <c>listIndexes</c> returns after <c>EnsureIndexesAsync</c>, per collection.</summary>
    private static Dictionary<string, IReadOnlyList<BsonDocument>> AsCreated()
        => Required.GroupBy(i => i.Collection).ToDictionary(
            g => g.Key,
            g => (IReadOnlyList<BsonDocument>)[Index("_id_", """{ "_id": 1 }"""), .. g.Select(i => Index(i.Name, i.Keys.ToJson(), unique: true))]);

    private static BsonDocument Index(string name, string keys, bool unique = false, bool partial = false)
    {
        var index = new BsonDocument { { "v", 2 }, { "key", BsonDocument.Parse(keys) }, { "name", name } };
        if (unique)
        {
            index.Add("unique", true);
        }

        if (partial)
        {
            index.Add("partialFilterExpression", new BsonDocument("pc", true));
        }

        return index;
    }
}
