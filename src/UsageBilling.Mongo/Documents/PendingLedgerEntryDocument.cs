using MongoDB.Bson.Serialization.Attributes;

namespace UsageBilling.Mongo;

/// <summary>
/// A ledger entry inside the <see cref="BalanceDocument"/> on its way to the ledger collection. <c>st: "c"</c> (claimed)
/// reserves the idempotency key on the account without moving money; <c>st: "a"</c> (applied) was added to the balance
/// in the same update that assigned <see cref="Sequence"/> and <see cref="BalanceAfter"/>, and is removed only after
/// the entry is in the ledger collection.
/// </summary>
[BsonIgnoreExtraElements]
internal sealed class PendingLedgerEntryDocument
{
    public const string Claimed = "c";
    public const string Applied = "a";

    public const string IdField = "id";
    public const string KeyField = "k";
    public const string StateField = "st";
    public const string SequenceField = "seq";
    public const string BalanceAfterField = "after";
    public const string ClaimedAtField = "at";

    [BsonElement(IdField)]
    public string Id { get; set; } = "";

    [BsonElement(KeyField)]
    public string IdempotencyKey { get; set; } = "";

    [BsonElement(StateField)]
    public string State { get; set; } = Claimed;

    [BsonElement("kind")]
    public string Kind { get; set; } = "";

    /// <summary>Signed nano-units.</summary>
    [BsonElement("amt")]
    public long Amount { get; set; }

    /// <summary>0 while claimed.</summary>
    [BsonElement(SequenceField)]
    public long Sequence { get; set; }

    /// <summary>Nano-units; 0 while claimed.</summary>
    [BsonElement(BalanceAfterField)]
    public long BalanceAfter { get; set; }

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

    /// <summary>UTC ticks (store clock) when the entry was claimed; repair abandons claims older than the timeout.</summary>
    [BsonElement(ClaimedAtField)]
    public long ClaimedAt { get; set; }

    public LedgerEntryDocument ToLedgerEntry(string accountId) => new()
    {
        Id = Id,
        AccountId = accountId,
        Sequence = Sequence,
        Kind = Kind,
        Amount = Amount,
        BalanceAfter = BalanceAfter,
        IdempotencyKey = IdempotencyKey,
        ReservationId = ReservationId,
        Reference = Reference,
        Reason = Reason,
        CreatedAt = CreatedAt,
    };
}
