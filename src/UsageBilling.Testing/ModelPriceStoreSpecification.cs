using Xunit;

namespace UsageBilling.Testing;

/// <summary>The behaviour every <see cref="IModelPriceStore"/> must have.</summary>
public abstract class ModelPriceStoreSpecification
{
    /// <summary>
    /// Creates the store under test. It may share state with stores created earlier in the class. To skip the class
    /// visibly when its backend is not available, call <c>Skip.If(...)</c> (Xunit.SkippableFact) here.
    /// </summary>
    protected abstract ValueTask<IModelPriceStore> CreateStoreAsync();

    [SkippableFact]
    public async Task Prices_are_kept_per_model_and_effective_date_and_replaced_on_the_same_date()
    {
        var store = await CreateStoreAsync();
        var model = $"model-{Guid.NewGuid():N}";
        var change = new DateTimeOffset(2026, 12, 1, 0, 0, 0, TimeSpan.Zero);
        var always = Price(model, 1m, null);
        var later = Price(model, 2m, change);
        await store.UpsertAsync(always);
        await store.UpsertAsync(later);
        await store.UpsertAsync(later with { InputPerMillion = Money.FromUnits(3.000000001m), RequestFee = Money.FromUnits(0.01m) });

        var prices = (await store.ListAsync()).Where(p => p.Model == model).OrderBy(p => p.EffectiveFrom).ToList();
        Assert.Equal(2, prices.Count);
        Assert.Equal(always, prices[0]);
        Assert.Equal(later with { InputPerMillion = Money.FromUnits(3.000000001m), RequestFee = Money.FromUnits(0.01m) }, prices[1]);
    }

    private static ModelPrice Price(string model, decimal input, DateTimeOffset? effectiveFrom) => new()
    {
        Model = model,
        InputPerMillion = Money.FromUnits(input),
        OutputPerMillion = Money.FromUnits(input * 4),
        CachedInputPerMillion = Money.FromUnits(input / 2),
        EffectiveFrom = effectiveFrom,
    };
}
