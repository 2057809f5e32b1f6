using MongoDB.Driver;

namespace UsageBilling.Mongo;

/// <summary>
/// The MongoDB <see cref="IModelPriceStore"/>: one document per model and effective date (see
/// <see cref="ModelPriceDocument"/>), written with an atomic replace-or-insert.
/// </summary>
internal sealed class MongoModelPriceStore(MongoBillingDatabase database) : IModelPriceStore
{
    private static readonly ReplaceOptions Upsert = new() { IsUpsert = true };

    public async ValueTask<IReadOnlyList<ModelPrice>> ListAsync(CancellationToken cancellationToken = default)
    {
        var documents = await database.ModelPrices.Find(Builders<ModelPriceDocument>.Filter.Empty)
            .ToListAsync(cancellationToken).ConfigureAwait(false);
        return documents.Select(d => d.ToPrice()).ToList();
    }

    public async ValueTask UpsertAsync(ModelPrice price, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(price);
        var document = ModelPriceDocument.From(price);
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                await database.ModelPrices.ReplaceOneAsync(Builders<ModelPriceDocument>.Filter.Eq(d => d.Id, document.Id), document, Upsert, cancellationToken)
                    .ConfigureAwait(false);
                return;
            }
            catch (MongoWriteException ex) when (MongoErrors.IsDuplicateKey(ex) && attempt < 3)
            {
                // Two upserts inserted the same missing price at once; the loser replaces it.
            }
        }
    }
}
