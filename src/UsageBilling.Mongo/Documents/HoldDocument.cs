using MongoDB.Bson.Serialization.Attributes;

namespace UsageBilling.Mongo;

/// <summary>
/// Credit held for one generation of a reservation, inside the <see cref="BalanceDocument"/>. It carries every field
/// of the reservation so that a reservation document lost to a crash can be rebuilt from it, and its presence is
/// what makes removing the hold (and charging a settle) happen exactly once.
/// </summary>
[BsonIgnoreExtraElements]
internal sealed class HoldDocument
{
    public const string ReservationIdField = "r";
    public const string GenerationField = "g";
    public const string KeyField = "k";
    public const string ExpiresAtField = "ea";

    [BsonElement(ReservationIdField)]
    public string ReservationId { get; set; } = "";

    /// <summary>Starts at 1; each revival of a released or expired reservation holds again under the next number.</summary>
    [BsonElement(GenerationField)]
    public int Generation { get; set; }

    [BsonElement(KeyField)]
    public string IdempotencyKey { get; set; } = "";

    /// <summary>Nano-units.</summary>
    [BsonElement("amt")]
    public long Amount { get; set; }

    [BsonElement("ref")]
    [BsonIgnoreIfNull]
    public string? Reference { get; set; }

    [BsonElement("ca")]
    public TimestampDocument CreatedAt { get; set; } = new();

    [BsonElement(ExpiresAtField)]
    public TimestampDocument ExpiresAt { get; set; } = new();

    public CreditReservation ToReservation(string accountId) => new()
    {
        Id = ReservationId,
        AccountId = accountId,
        Amount = new Money(Amount),
        IdempotencyKey = IdempotencyKey,
        Reference = Reference,
        State = ReservationState.Active,
        CreatedAt = CreatedAt.ToDateTimeOffset(),
        ExpiresAt = ExpiresAt.ToDateTimeOffset(),
    };

    public ReservationDocument ToActiveReservation(string accountId) => new()
    {
        Id = ReservationId,
        AccountId = accountId,
        IdempotencyKey = IdempotencyKey,
        Generation = Generation,
        State = ReservationStates.Active,
        Amount = Amount,
        Reference = Reference,
        CreatedAt = CreatedAt,
        ExpiresAt = ExpiresAt,
    };
}
