using MongoDB.Bson.Serialization.Attributes;

namespace UsageBilling.Mongo;

/// <summary>A <see cref="BillingAccount"/> in the accounts collection.</summary>
[BsonIgnoreExtraElements]
internal sealed class AccountDocument
{
    [BsonId]
    public string Id { get; set; } = "";

    [BsonElement("name")]
    public string Name { get; set; } = "";

    [BsonElement("plan")]
    public string Plan { get; set; } = "";

    [BsonElement("ca")]
    public TimestampDocument CreatedAt { get; set; } = new();

    [BsonElement("budget")]
    [BsonIgnoreIfNull]
    public SpendBudgetDocument? Budget { get; set; }

    public static AccountDocument From(BillingAccount account) => new()
    {
        Id = account.Id,
        Name = account.Name,
        Plan = account.Plan,
        CreatedAt = TimestampDocument.From(account.CreatedAt),
        Budget = SpendBudgetDocument.From(account.Budget),
    };

    public BillingAccount ToAccount() => new()
    {
        Id = Id,
        Name = Name,
        Plan = Plan,
        CreatedAt = CreatedAt.ToDateTimeOffset(),
        Budget = Budget?.ToBudget(),
    };
}
