using MongoDB.Driver;

namespace UsageBilling.Mongo;

/// <summary>
/// Creates the indexes the MongoDB stores rely on. The unique ones are part of correctness (they make API key
/// hashes, reservation keys, ledger idempotency keys and provider keys per account and provider unique), so run <see cref="EnsureIndexesAsync"/> before the
/// first request: set <see cref="UsageBillingMongoOptions.CreateIndexesOnStartup"/>, or call it from a deployment step.
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
