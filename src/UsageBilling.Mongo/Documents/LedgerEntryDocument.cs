using MongoDB.Bson.Serialization.Attributes;

namespace UsageBilling.Mongo;

/// <summary>A <see cref="LedgerEntry"/> in the ledger collection; unique by (account, idempotency key) and (account, sequence).</summary>
[BsonIgnoreExtraElements]
internal sealed class LedgerEntryDocument
{
    [BsonId]
    public string Id { get; set; } = "";

    [BsonElement("acct")]
    public string AccountId { get; set; } = "";

    /// <summary>The entry's position in the account's ledger (1, 2, ...), assigned by the balance update that applied it.</summary>
    [BsonElement("seq")]
    public long Sequence { get; set; }

    [BsonElement("kind")]
    public string Kind { get; set; } = "";

    /// <summary>Signed nano-units.</summary>
    [BsonElement("amt")]
    public long Amount { get; set; }

    /// <summary>Nano-units.</summary>
    [BsonElement("after")]
    public long BalanceAfter { get; set; }

    [BsonElement("key")]
    public string IdempotencyKey { get; set; } = "";

    [BsonElement("rid")]
    [BsonIgnoreIfNull]
    public string? ReservationId { get; set; }

    [BsonElement("ref")]
    [BsonIgnoreIfNull]
    public string? Reference { get; set; }

    [BsonElement("why")]
    [BsonIgnoreIfNull]
    public string? Reason { get; set; }

    [BsonElement("ca")]
    public TimestampDocument CreatedAt { get; set; } = new();

    public LedgerEntry ToEntry() => new()
    {
        Id = Id,
        AccountId = AccountId,
        Kind = LedgerEntryKinds.Parse(Kind),
        Amount = new Money(Amount),
        BalanceAfter = new Money(BalanceAfter),
        IdempotencyKey = IdempotencyKey,
        ReservationId = ReservationId,
        Reference = Reference,
        Reason = Reason,
        CreatedAt = CreatedAt.ToDateTimeOffset(),
    };
}
