namespace UsageBilling.Stores;

/// <summary>
/// Token prices set at run time through the pricing admin endpoints. The catalog adds them to the prices from
/// configuration; a stored price for a model wins over a configured one with the same effective date.
/// </summary>
public interface IModelPriceStore
{
    /// <summary>Every stored price, every version.</summary>
    ValueTask<IReadOnlyList<ModelPrice>> ListAsync(CancellationToken cancellationToken = default);

    /// <summary>Stores a price for <see cref="ModelPrice.Model"/> from <see cref="ModelPrice.EffectiveFrom"/>, replacing a stored price with the same model and date.</summary>
    ValueTask UpsertAsync(ModelPrice price, CancellationToken cancellationToken = default);
}
