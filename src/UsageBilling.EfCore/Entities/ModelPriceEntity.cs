namespace UsageBilling.EntityFrameworkCore;

/// <summary>A row of the model prices table: one per model (case-insensitive) and effective date.</summary>
internal sealed class ModelPriceEntity
{
    /// <summary>Stands for "no effective date" (the price always applies) in <see cref="EffectiveFromKey"/>; real ticks are never negative.</summary>
    public const long Always = -1;

    /// <summary><see cref="ModelPrice.Model"/> in upper case: the same model whatever the case, as the catalog matches it.</summary>
    public string ModelKey { get; set; } = null!;

    /// <summary><see cref="EffectiveFrom"/>, or <see cref="Always"/>: part of the key, so it cannot be NULL.</summary>
    public long EffectiveFromKey { get; set; }

    public string Model { get; set; } = null!;

    /// <summary>UTC ticks, or NULL for "always".</summary>
    public long? EffectiveFrom { get; set; }

    /// <summary>Nano-units.</summary>
    public long InputPerMillion { get; set; }

    /// <summary>Nano-units.</summary>
    public long OutputPerMillion { get; set; }

    /// <summary>Nano-units.</summary>
    public long CachedInputPerMillion { get; set; }

    /// <summary>Nano-units.</summary>
    public long RequestFee { get; set; }

    public static string KeyOf(string model) => model.ToUpperInvariant();

    public static long KeyOf(DateTimeOffset? effectiveFrom) => StoredTime.ToTicks(effectiveFrom) ?? Always;

    public ModelPrice ToPrice() => new()
    {
        Model = Model,
        InputPerMillion = new Money(InputPerMillion),
        OutputPerMillion = new Money(OutputPerMillion),
        CachedInputPerMillion = new Money(CachedInputPerMillion),
        RequestFee = new Money(RequestFee),
        EffectiveFrom = StoredTime.FromTicks(EffectiveFrom),
    };
}
