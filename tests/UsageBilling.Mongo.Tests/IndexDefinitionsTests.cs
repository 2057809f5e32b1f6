using MongoDB.Driver;
using static UsageBilling.Mongo.Tests.Rendered;

namespace UsageBilling.Mongo.Tests;

/// <summary>The indexes <c>EnsureIndexesAsync</c> creates: the unique ones are what make the stores idempotent.</summary>
public sealed class IndexDefinitionsTests
{
    [Fact]
    public void Api_key_hashes_are_unique_and_keys_list_by_account_in_creation_order()
    {
        var (hash, list) = Two(UsageBillingMongoIndexes.ApiKeys);
        AssertIndex(hash, """{ "hash": 1 }""", "hash_unique", unique: true);
        AssertIndex(list, """{ "acct": 1, "ca.t": 1, "_id": 1 }""", "account_created", unique: false);
    }

    [Fact]
    public void Reservations_are_unique_per_account_and_key_and_the_sweeper_reads_state_then_expiry_or_creation()
    {
        var indexes = UsageBillingMongoIndexes.Reservations;
        Assert.Equal(4, indexes.Count);
        AssertIndex(indexes[0], """{ "acct": 1, "key": 1 }""", "account_key_unique", unique: true);
        AssertIndex(indexes[1], """{ "st": 1, "ea.t": 1 }""", "state_expires_at", unique: false);
        AssertIndex(indexes[2], """{ "st": 1, "ca.t": 1 }""", "state_created_at", unique: false);
        AssertIndex(indexes[3], """{ "pca": 1 }""", "pending_charge", unique: false);
        var partial = Assert.IsType<CreateIndexOptions<ReservationDocument>>(indexes[3].Options).PartialFilterExpression;
        AssertBson("""{ "pc": true }""", Of(partial));
    }

    [Fact]
    public void Ledger_entries_are_unique_per_account_by_idempotency_key_and_by_sequence()
    {
        var (key, sequence) = Two(UsageBillingMongoIndexes.Ledger);
        AssertIndex(key, """{ "acct": 1, "key": 1 }""", "account_key_unique", unique: true);
        AssertIndex(sequence, """{ "acct": 1, "seq": -1 }""", "account_sequence_unique", unique: true);
    }

    [Fact]
    public void Usage_is_indexed_by_account_and_by_key_in_page_order()
    {
        var indexes = UsageBillingMongoIndexes.Usage;
        Assert.Equal(3, indexes.Count);
        AssertIndex(indexes[0], """{ "acct": 1, "ts": -1, "_id": -1 }""", "account_time", unique: false);
        AssertIndex(indexes[1], """{ "kid": 1, "ts": -1, "_id": -1 }""", "key_time", unique: false);
        AssertIndex(indexes[2], """{ "ts": -1, "_id": -1 }""", "time", unique: false);
    }

    [Fact]
    public void Counters_expire_through_a_ttl_index_at_their_window_end()
    {
        var index = Assert.Single(UsageBillingMongoIndexes.Counters);
        AssertIndex(index, """{ "exp": 1 }""", "expires_ttl", unique: false);
        Assert.Equal(TimeSpan.Zero, index.Options.ExpireAfter);
    }

    [Fact]
    public void Provider_keys_are_unique_per_account_and_provider()
    {
        var index = Assert.Single(UsageBillingMongoIndexes.ProviderKeys);
        AssertIndex(index, """{ "acct": 1, "prov": 1 }""", "account_provider_unique", unique: true);
    }

    [Fact]
    public void Repair_finds_accounts_by_pending_claim_time_and_hold_expiry()
    {
        var (pending, holds) = Two(UsageBillingMongoIndexes.Balances);
        AssertIndex(pending, """{ "pend.at": 1 }""", "pending_claimed_at", unique: false);
        AssertIndex(holds, """{ "holds.ea.t": 1 }""", "holds_expires_at", unique: false);
    }

    private static void AssertIndex<T>(CreateIndexModel<T> index, string keys, string name, bool unique)
    {
        AssertBson(keys, KeysOf(index));
        Assert.Equal(name, index.Options.Name);
        Assert.Equal(unique, index.Options.Unique ?? false);
        if (name != "expires_ttl")
        {
            Assert.Null(index.Options.ExpireAfter);
        }
    }

    private static (T First, T Second) Two<T>(IReadOnlyList<T> items)
    {
        Assert.Equal(2, items.Count);
        return (items[0], items[1]);
    }
}
