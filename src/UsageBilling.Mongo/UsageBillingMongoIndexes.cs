using System.Globalization;
using MongoDB.Bson;
using MongoDB.Bson.Serialization;
using MongoDB.Driver;

namespace UsageBilling.Mongo;

/// <summary>
/// Creates the indexes the MongoDB stores rely on. The unique ones are part of correctness (they make API key
/// hashes, reservation keys, ledger idempotency keys and provider keys per account and provider unique), so they
/// must exist before the first request: <see cref="UsageBillingMongoOptions.CreateIndexesOnStartup"/> (the default)
/// runs <see cref="EnsureIndexesAsync"/> at start-up; with it turned off (indexes made in a deployment step), start-up
/// checks with <c>listIndexes</c> that every unique index exists and refuses to start if one is missing.
/// Creating indexes that exist is harmless.
/// </summary>
/// <example>
/// <code>
/// await app.Services.GetRequiredService&lt;UsageBillingMongoIndexes&gt;().EnsureIndexesAsync();
/// // or, without the application's services:
/// await new UsageBillingMongoIndexes(new MongoClient(connectionString).GetDatabase("usagebilling")).EnsureIndexesAsync();
/// </code>
/// </example>
public sealed class UsageBillingMongoIndexes
{
    private readonly MongoBillingDatabase _database;

    /// <summary>Creates the index maker for <paramref name="database"/> with the collection names in <paramref name="options"/> (the defaults when <see langword="null"/>).</summary>
    public UsageBillingMongoIndexes(IMongoDatabase database, UsageBillingMongoOptions? options = null)
        : this(new MongoBillingDatabase(database, options ?? new UsageBillingMongoOptions()))
    {
    }

    internal UsageBillingMongoIndexes(MongoBillingDatabase database) => _database = database;

    /// <summary>Creates every index of every UsageBilling collection that does not exist yet.</summary>
    public async Task EnsureIndexesAsync(CancellationToken cancellationToken = default)
    {
        await _database.ApiKeys.Indexes.CreateManyAsync(ApiKeys, cancellationToken).ConfigureAwait(false);
        await _database.Balances.Indexes.CreateManyAsync(Balances, cancellationToken).ConfigureAwait(false);
        await _database.Reservations.Indexes.CreateManyAsync(Reservations, cancellationToken).ConfigureAwait(false);
        await _database.Ledger.Indexes.CreateManyAsync(Ledger, cancellationToken).ConfigureAwait(false);
        await _database.Usage.Indexes.CreateManyAsync(Usage, cancellationToken).ConfigureAwait(false);
        await _database.Counters.Indexes.CreateManyAsync(Counters, cancellationToken).ConfigureAwait(false);
        await _database.ProviderKeys.Indexes.CreateManyAsync(ProviderKeys, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Checks that every unique index the stores' correctness rests on (<see cref="RequiredUniqueIndexes"/>) exists,
    /// and throws an <see cref="InvalidOperationException"/> naming the missing ones and how to create them otherwise.
    /// </summary>
    internal async Task VerifyUniqueIndexesAsync(CancellationToken cancellationToken = default)
    {
        var existing = new Dictionary<string, IReadOnlyList<BsonDocument>>(StringComparer.Ordinal)
        {
            [_database.ApiKeys.CollectionNamespace.CollectionName] = await ListAsync(_database.ApiKeys, cancellationToken).ConfigureAwait(false),
            [_database.Reservations.CollectionNamespace.CollectionName] = await ListAsync(_database.Reservations, cancellationToken).ConfigureAwait(false),
            [_database.Ledger.CollectionNamespace.CollectionName] = await ListAsync(_database.Ledger, cancellationToken).ConfigureAwait(false),
            [_database.ProviderKeys.CollectionNamespace.CollectionName] = await ListAsync(_database.ProviderKeys, cancellationToken).ConfigureAwait(false),
        };
        var problems = FindMissing(RequiredUniqueIndexes(_database.Options), existing);
        if (problems.Count > 0)
        {
            throw new InvalidOperationException(MissingMessage(_database.Database.DatabaseNamespace.DatabaseName, problems));
        }
    }

    /// <summary>A unique index the stores rely on: its collection, its name and its keys as <c>listIndexes</c> shows them.</summary>
    internal sealed record RequiredIndex(string Collection, string Name, BsonDocument Keys);

    /// <summary>The unique indexes of <see cref="ApiKeys"/>, <see cref="Reservations"/>, <see cref="Ledger"/> and <see cref="ProviderKeys"/>, in the collections <paramref name="options"/> names.</summary>
    internal static IReadOnlyList<RequiredIndex> RequiredUniqueIndexes(UsageBillingMongoOptions options) =>
    [
        .. Unique(options.ApiKeysCollectionName, ApiKeys),
        .. Unique(options.ReservationsCollectionName, Reservations),
        .. Unique(options.LedgerCollectionName, Ledger),
        .. Unique(options.ProviderKeysCollectionName, ProviderKeys),
    ];

    /// <summary>
    /// What is wrong, one line per required index, given the index documents <c>listIndexes</c> returned per
    /// collection (a collection absent from <paramref name="existing"/> has none). An index serves when it has the same
    /// keys in the same order and directions, is unique, and is not partial (a partial index enforces nothing outside
    /// its filter); its name does not matter.
    /// </summary>
    internal static IReadOnlyList<string> FindMissing(IReadOnlyList<RequiredIndex> required, IReadOnlyDictionary<string, IReadOnlyList<BsonDocument>> existing)
    {
        var problems = new List<string>();
        foreach (var index in required)
        {
            var indexes = existing.TryGetValue(index.Collection, out var found) ? found : [];
            var sameKeys = indexes.Where(i => i.TryGetValue("key", out var key) && key is BsonDocument keys && KeysEqual(keys, index.Keys)).ToList();
            if (sameKeys.Any(i => IsTrue(i, "unique") && !i.Contains("partialFilterExpression")))
            {
                continue;
            }

            var what = $"{index.Collection}: unique index '{index.Name}' {index.Keys.ToJson()}";
            if (sameKeys.FirstOrDefault() is { } notUnique)
            {
                problems.Add($"{what} exists as '{NameOf(notUnique)}' but is {(IsTrue(notUnique, "unique") ? "partial" : "not unique")}");
            }
            else if (indexes.FirstOrDefault(i => NameOf(i) == index.Name) is { } other)
            {
                problems.Add($"{what} has other keys: {other.GetValue("key", new BsonDocument()).ToJson()}");
            }
            else
            {
                problems.Add($"{what} is missing");
            }
        }

        return problems;
    }

    internal static string MissingMessage(string database, IReadOnlyList<string> problems)
        => $"UsageBilling's MongoDB stores need unique indexes that database '{database}' lacks, so they cannot keep API key hashes, "
            + "reservations, ledger entries and provider keys unique: "
            + string.Join("; ", problems)
            + ". Set UsageBillingMongoOptions.CreateIndexesOnStartup to true (UseMongo(..., o => o.CreateIndexesOnStartup = true), the default) "
            + "to create them at start-up, or create them in a deployment step with UsageBillingMongoIndexes.EnsureIndexesAsync() "
            + "(drop a non-unique index of the same name first).";

    private static IEnumerable<RequiredIndex> Unique<T>(string collection, IEnumerable<CreateIndexModel<T>> models)
        => models.Where(static m => m.Options.Unique == true).Select(m => new RequiredIndex(collection, m.Options.Name,
            m.Keys.Render(new RenderArgs<T>(BsonSerializer.LookupSerializer<T>(), BsonSerializer.SerializerRegistry))));

    private static async Task<IReadOnlyList<BsonDocument>> ListAsync<T>(IMongoCollection<T> collection, CancellationToken cancellationToken)
    {
        try
        {
            using var cursor = await collection.Indexes.ListAsync(cancellationToken).ConfigureAwait(false);
            return await cursor.ToListAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (MongoCommandException ex) when (ex.Code == 26)
        {
            // NamespaceNotFound: the collection does not exist yet, so it has no index.
            return [];
        }
    }

    /// <summary>Same fields in the same order with the same directions; numbers compare by value (a shell may send 1.0 for 1).</summary>
    private static bool KeysEqual(BsonDocument actual, BsonDocument expected)
    {
        if (actual.ElementCount != expected.ElementCount)
        {
            return false;
        }

        for (var i = 0; i < expected.ElementCount; i++)
        {
            var (a, e) = (actual.GetElement(i), expected.GetElement(i));
            if (a.Name != e.Name)
            {
                return false;
            }

            var same = a.Value.IsNumeric && e.Value.IsNumeric ? a.Value.ToDouble() == e.Value.ToDouble() : a.Value.Equals(e.Value);
            if (!same)
            {
                return false;
            }
        }

        return true;
    }

    private static bool IsTrue(BsonDocument index, string field)
        => index.TryGetValue(field, out var value) && (value.IsBoolean ? value.AsBoolean : value.IsNumeric && value.ToDouble() != 0);

    private static string NameOf(BsonDocument index)
        => index.TryGetValue("name", out var name) ? name.ToString() ?? "" : "";

    /// <summary>Keys: the hash is unique (lookups, and a second key with one hash is refused); listing by account, oldest first.</summary>
    internal static IReadOnlyList<CreateIndexModel<ApiKeyDocument>> ApiKeys { get; } =
    [
        new(Builders<ApiKeyDocument>.IndexKeys.Ascending(d => d.Hash), new CreateIndexOptions { Name = "hash_unique", Unique = true }),
        new(Builders<ApiKeyDocument>.IndexKeys.Ascending(d => d.AccountId).Ascending(d => d.CreatedAt.UtcTicks).Ascending(d => d.Id),
            new CreateIndexOptions { Name = "account_created" }),
    ];

    /// <summary>Balances: repair finds accounts with old pending entries and holds past their expiry.</summary>
    internal static IReadOnlyList<CreateIndexModel<BalanceDocument>> Balances { get; } =
    [
        new(Builders<BalanceDocument>.IndexKeys.Ascending(BalanceDocument.PendingField + "." + PendingLedgerEntryDocument.ClaimedAtField),
            new CreateIndexOptions { Name = "pending_claimed_at" }),
        new(Builders<BalanceDocument>.IndexKeys.Ascending(BalanceDocument.HoldsField + "." + HoldDocument.ExpiresAtField + ".t"),
            new CreateIndexOptions { Name = "holds_expires_at" }),
    ];

    /// <summary>
    /// Reservations: one per (account, idempotency key), which makes a key hold once; (state, expiry) and (state,
    /// creation) for the sweeper, which also expires holds older than the current timeout;
    /// settled-after-expiry charges still to write, for repair.
    /// </summary>
    internal static IReadOnlyList<CreateIndexModel<ReservationDocument>> Reservations { get; } =
    [
        new(Builders<ReservationDocument>.IndexKeys.Ascending(d => d.AccountId).Ascending(d => d.IdempotencyKey),
            new CreateIndexOptions { Name = "account_key_unique", Unique = true }),
        new(Builders<ReservationDocument>.IndexKeys.Ascending(d => d.State).Ascending(d => d.ExpiresAt.UtcTicks),
            new CreateIndexOptions { Name = "state_expires_at" }),
        new(Builders<ReservationDocument>.IndexKeys.Ascending(d => d.State).Ascending(d => d.CreatedAt.UtcTicks),
            new CreateIndexOptions { Name = "state_created_at" }),
        new(Builders<ReservationDocument>.IndexKeys.Ascending(d => d.PendingChargeAt),
            new CreateIndexOptions<ReservationDocument>
            {
                Name = "pending_charge",
                PartialFilterExpression = Builders<ReservationDocument>.Filter.Eq(d => d.PendingCharge, true),
            }),
    ];

    /// <summary>Ledger: one entry per (account, idempotency key) and per (account, sequence); pages newest first.</summary>
    internal static IReadOnlyList<CreateIndexModel<LedgerEntryDocument>> Ledger { get; } =
    [
        new(Builders<LedgerEntryDocument>.IndexKeys.Ascending(d => d.AccountId).Ascending(d => d.IdempotencyKey),
            new CreateIndexOptions { Name = "account_key_unique", Unique = true }),
        new(Builders<LedgerEntryDocument>.IndexKeys.Ascending(d => d.AccountId).Descending(d => d.Sequence),
            new CreateIndexOptions { Name = "account_sequence_unique", Unique = true }),
    ];

    /// <summary>Usage: newest first by account, by key, and overall, in the order pages are read.</summary>
    internal static IReadOnlyList<CreateIndexModel<UsageRecordDocument>> Usage { get; } =
    [
        new(Builders<UsageRecordDocument>.IndexKeys.Ascending(d => d.AccountId).Descending(d => d.UnixMilliseconds).Descending(d => d.RequestId),
            new CreateIndexOptions { Name = "account_time" }),
        new(Builders<UsageRecordDocument>.IndexKeys.Ascending(d => d.KeyId).Descending(d => d.UnixMilliseconds).Descending(d => d.RequestId),
            new CreateIndexOptions { Name = "key_time" }),
        new(Builders<UsageRecordDocument>.IndexKeys.Descending(d => d.UnixMilliseconds).Descending(d => d.RequestId),
            new CreateIndexOptions { Name = "time" }),
    ];

    /// <summary>Counters: deleted by the server once their window has ended.</summary>
    internal static IReadOnlyList<CreateIndexModel<CounterDocument>> Counters { get; } =
    [
        new(Builders<CounterDocument>.IndexKeys.Ascending(d => d.ExpiresAt),
            new CreateIndexOptions { Name = "expires_ttl", ExpireAfter = TimeSpan.Zero }),
    ];

    /// <summary>Provider keys: one per (account, provider), which makes concurrent first upserts store one key; also lists an account's keys by provider.</summary>
    internal static IReadOnlyList<CreateIndexModel<ProviderKeyDocument>> ProviderKeys { get; } =
    [
        new(Builders<ProviderKeyDocument>.IndexKeys.Ascending(d => d.AccountId).Ascending(d => d.Provider),
            new CreateIndexOptions { Name = "account_provider_unique", Unique = true }),
    ];
}
