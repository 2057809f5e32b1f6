using MongoDB.Driver;

namespace UsageBilling.Mongo;

/// <summary>The filter and update of <see cref="MongoRateLimitCounterStore"/>, built here so tests can render them.</summary>
internal static class CounterDefinitions
{
    public static FilterDefinition<CounterDocument> ByKey(string key) => Builders<CounterDocument>.Filter.Eq(d => d.Key, key);

    public static FilterDefinition<CounterDocument> ByKeys(IEnumerable<string> keys) => Builders<CounterDocument>.Filter.In(d => d.Key, keys);

    /// <summary>Adds the delta, creating the counter with its expiry if it is missing; one atomic upsert.</summary>
    public static UpdateDefinition<CounterDocument> Increment(long delta, DateTimeOffset expiresAt)
        => Builders<CounterDocument>.Update
            .Inc(d => d.Value, delta)
            .SetOnInsert(d => d.ExpiresAt, expiresAt.UtcDateTime);

    public static FindOneAndUpdateOptions<CounterDocument> IncrementOptions { get; } = new()
    {
        IsUpsert = true,
        ReturnDocument = ReturnDocument.After,
    };
}
