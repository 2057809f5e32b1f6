using MongoDB.Bson.Serialization.Attributes;

namespace UsageBilling.Mongo;

/// <summary>
/// One account's money, in one document so that every money move is a single-document atomic update:
/// the balance, the sum of active holds, the ledger sequence, the holds themselves and the ledger entries that
/// are claimed or applied but not yet copied to the ledger collection. See <see cref="MongoCreditStore"/>.
/// </summary>
[BsonIgnoreExtraElements]
internal sealed class BalanceDocument
{
    public const string BalanceField = "bal";
    public const string ReservedField = "res";
    public const string SequenceField = "seq";
    public const string HoldsField = "holds";
    public const string PendingField = "pend";

    /// <summary>The account id.</summary>
    [BsonId]
    public string AccountId { get; set; } = "";

    /// <summary>The balance in nano-units: the sum of every applied ledger entry.</summary>
    [BsonElement(BalanceField)]
    public long Balance { get; set; }

    /// <summary>The sum of <see cref="Holds"/> amounts, in nano-units.</summary>
    [BsonElement(ReservedField)]
    public long Reserved { get; set; }

    /// <summary>How many ledger entries were applied; the last one has this sequence number.</summary>
    [BsonElement(SequenceField)]
    public long Sequence { get; set; }

    /// <summary>One entry per active reservation generation. Present exactly while the credit is held.</summary>
    [BsonElement(HoldsField)]
    public List<HoldDocument> Holds { get; set; } = [];

    /// <summary>Ledger entries claimed (<c>c</c>) or applied (<c>a</c>) here and not yet copied to the ledger collection.</summary>
    [BsonElement(PendingField)]
    public List<PendingLedgerEntryDocument> Pending { get; set; } = [];

    public CreditBalance ToBalance() => new(new Money(Balance), new Money(Reserved));
}
