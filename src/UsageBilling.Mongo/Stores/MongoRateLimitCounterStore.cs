using MongoDB.Driver;

namespace UsageBilling.Mongo;

/// <summary>
/// The MongoDB <see cref="ICounterStore"/>: each increment is one <c>findOneAndUpdate</c> upsert with
/// <c>$inc</c> returning the new value; a TTL index deletes counters after their window ends.
/// </summary>
internal sealed class MongoRateLimitCounterStore(MongoBillingDatabase database) : ICounterStore
{
    public async ValueTask<long[]> IncrementAsync(IReadOnlyList<CounterIncrement> increments, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(increments);
        var tasks = new Task<long>[increments.Count];
        for (var i = 0; i < increments.Count; i++)
        {
            tasks[i] = IncrementOneAsync(increments[i], cancellationToken);
        }

        return await Task.WhenAll(tasks).ConfigureAwait(false);
    }

    public async ValueTask<long[]> GetAsync(IReadOnlyList<string> keys, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(keys);
        var documents = await database.Counters.Find(CounterDefinitions.ByKeys(keys.Distinct(StringComparer.Ordinal)))
            .ToListAsync(cancellationToken).ConfigureAwait(false);
        var values = documents.ToDictionary(d => d.Key, d => d.Value, StringComparer.Ordinal);
        return keys.Select(k => values.GetValueOrDefault(k)).ToArray();
    }

    private async Task<long> IncrementOneAsync(CounterIncrement increment, CancellationToken cancellationToken)
    {
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                var document = await database.Counters.FindOneAndUpdateAsync(
                    CounterDefinitions.ByKey(increment.Key),
                    CounterDefinitions.Increment(increment.Delta, increment.ExpiresAt),
                    CounterDefinitions.IncrementOptions,
                    cancellationToken).ConfigureAwait(false);
                return document.Value;
            }
            catch (MongoCommandException ex) when (MongoErrors.IsDuplicateKey(ex) && attempt < 3)
            {
                // Two upserts created the same missing counter at once; the loser retries as an update.
            }
        }
    }
}
