using MongoDB.Bson.Serialization.Attributes;

namespace UsageBilling.Mongo;

/// <summary>A <see cref="SpendBudget"/>, embedded in an account or key; caps in nano-units.</summary>
[BsonIgnoreExtraElements]
internal sealed class SpendBudgetDocument
{
    [BsonElement("d")]
    [BsonIgnoreIfNull]
    public long? Daily { get; set; }

    [BsonElement("w")]
    [BsonIgnoreIfNull]
    public long? Weekly { get; set; }

    [BsonElement("m")]
    [BsonIgnoreIfNull]
    public long? Monthly { get; set; }

    public static SpendBudgetDocument? From(SpendBudget? budget) => budget is null ? null : new()
    {
        Daily = budget.Daily?.Nanos,
        Weekly = budget.Weekly?.Nanos,
        Monthly = budget.Monthly?.Nanos,
    };

    public SpendBudget ToBudget() => new()
    {
        Daily = Daily is { } daily ? new Money(daily) : null,
        Weekly = Weekly is { } weekly ? new Money(weekly) : null,
        Monthly = Monthly is { } monthly ? new Money(monthly) : null,
    };
}
