using MongoDB.Bson.Serialization.Attributes;

namespace UsageBilling.Mongo;

/// <summary>
/// A <see cref="CreditReservation"/> in the reservations collection. Its state changes only through conditional
/// updates on (<c>_id</c>, <c>st</c>), so exactly one caller wins each transition; the hold it stands for lives in the
/// account's <see cref="BalanceDocument"/> under (<see cref="Id"/>, <see cref="Generation"/>).
/// </summary>
[BsonIgnoreExtraElements]
internal sealed class ReservationDocument
{
    [BsonId]
    public string Id { get; set; } = "";

    [BsonElement("acct")]
    public string AccountId { get; set; } = "";

    [BsonElement("key")]
    public string IdempotencyKey { get; set; } = "";

    /// <summary>The generation of the current (or last) hold; see <see cref="HoldDocument.Generation"/>.</summary>
    [BsonElement("g")]
    public int Generation { get; set; }

    /// <summary>One of <see cref="ReservationStates"/>.</summary>
    [BsonElement("st")]
    public string State { get; set; } = ReservationStates.Active;

    /// <summary>Nano-units.</summary>
    [BsonElement("amt")]
    public long Amount { get; set; }

    [BsonElement("ref")]
    [BsonIgnoreIfNull]
    public string? Reference { get; set; }

    [BsonElement("ca")]
    public TimestampDocument CreatedAt { get; set; } = new();

    [BsonElement("ea")]
    public TimestampDocument ExpiresAt { get; set; } = new();

    /// <summary>The amount charged by the settle, nano-units.</summary>
    [BsonElement("sam")]
    [BsonIgnoreIfNull]
    public long? SettledAmount { get; set; }

    [BsonElement("sat")]
    [BsonIgnoreIfNull]
    public TimestampDocument? SettledAt { get; set; }

    /// <summary>Whether the settle took the reservation from active (its hold is charged) rather than from expired.</summary>
    [BsonElement("sa")]
    [BsonIgnoreIfNull]
    public bool? SettledFromActive { get; set; }

    /// <summary>
    /// Set when an expired reservation is settled for a non-zero amount, until its charge is in the ledger; with
    /// <see cref="PendingChargeAt"/> (UTC ticks, store clock) it lets the sweeper finish a charge cut off by a crash.
    /// </summary>
    [BsonElement("pc")]
    [BsonIgnoreIfNull]
    public bool? PendingCharge { get; set; }

    [BsonElement("pca")]
    [BsonIgnoreIfNull]
    public long? PendingChargeAt { get; set; }

    public CreditReservation ToReservation() => new()
    {
        Id = Id,
        AccountId = AccountId,
        Amount = new Money(Amount),
        IdempotencyKey = IdempotencyKey,
        Reference = Reference,
        State = ReservationStates.Parse(State),
        CreatedAt = CreatedAt.ToDateTimeOffset(),
        ExpiresAt = ExpiresAt.ToDateTimeOffset(),
        SettledAmount = SettledAmount is { } settled ? new Money(settled) : null,
    };
}
