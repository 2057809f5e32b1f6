namespace UsageBilling;

/// <summary>The in-memory <see cref="IModelPriceStore"/>.</summary>
internal sealed class InMemoryModelPriceStore : IModelPriceStore
{
    private readonly Lock _lock = new();
    private readonly List<ModelPrice> _prices = [];

    public ValueTask<IReadOnlyList<ModelPrice>> ListAsync(CancellationToken cancellationToken = default)
    {
        lock (_lock)
        {
            return ValueTask.FromResult<IReadOnlyList<ModelPrice>>(_prices.ToList());
        }
    }

    public ValueTask UpsertAsync(ModelPrice price, CancellationToken cancellationToken = default)
    {
        lock (_lock)
        {
            _prices.RemoveAll(p => string.Equals(p.Model, price.Model, StringComparison.OrdinalIgnoreCase) && p.EffectiveFrom == price.EffectiveFrom);
            _prices.Add(price);
        }

        return ValueTask.CompletedTask;
    }
}
