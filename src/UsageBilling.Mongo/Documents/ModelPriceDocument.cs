using MongoDB.Bson.Serialization.Attributes;

namespace UsageBilling.Mongo;

/// <summary>
/// A <see cref="ModelPrice"/> set at run time. The <c>_id</c> is the model (upper-cased, as model names compare
/// case-insensitively) and the effective date, so storing a price for the same model and date replaces it.
/// </summary>
[BsonIgnoreExtraElements]
internal sealed class ModelPriceDocument
{
    [BsonId]
    public string Id { get; set; } = "";

    [BsonElement("model")]
    public string Model { get; set; } = "";

    [BsonElement("from")]
    [BsonIgnoreIfNull]
    public TimestampDocument? EffectiveFrom { get; set; }

    /// <summary>Nano-units per million input tokens.</summary>
    [BsonElement("in")]
    public long InputPerMillion { get; set; }

    [BsonElement("out")]
    public long OutputPerMillion { get; set; }

    [BsonElement("cached")]
    public long CachedInputPerMillion { get; set; }

    [BsonElement("fee")]
    public long RequestFee { get; set; }

    public static string IdOf(string model, DateTimeOffset? effectiveFrom)
        => string.Concat(model.ToUpperInvariant(), "@", effectiveFrom is { } from ? from.UtcTicks.ToString(System.Globalization.CultureInfo.InvariantCulture) : "always");

    public static ModelPriceDocument From(ModelPrice price) => new()
    {
        Id = IdOf(price.Model, price.EffectiveFrom),
        Model = price.Model,
        EffectiveFrom = TimestampDocument.From(price.EffectiveFrom),
        InputPerMillion = price.InputPerMillion.Nanos,
        OutputPerMillion = price.OutputPerMillion.Nanos,
        CachedInputPerMillion = price.CachedInputPerMillion.Nanos,
        RequestFee = price.RequestFee.Nanos,
    };

    public ModelPrice ToPrice() => new()
    {
        Model = Model,
        EffectiveFrom = EffectiveFrom?.ToDateTimeOffset(),
        InputPerMillion = new Money(InputPerMillion),
        OutputPerMillion = new Money(OutputPerMillion),
        CachedInputPerMillion = new Money(CachedInputPerMillion),
        RequestFee = new Money(RequestFee),
    };
}
