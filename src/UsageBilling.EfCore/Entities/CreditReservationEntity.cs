namespace UsageBilling.EntityFrameworkCore;

/// <summary>A row of the reservations table.</summary>
internal sealed class CreditReservationEntity
{
    public string Id { get; set; } = null!;

    public string AccountId { get; set; } = null!;

    /// <summary>Nano-units.</summary>
    public long Amount { get; set; }

    public string IdempotencyKey { get; set; } = null!;

    public string? Reference { get; set; }

    /// <summary>A <see cref="ReservationState"/>.</summary>
    public int State { get; set; }

    /// <summary>UTC ticks.</summary>
    public long CreatedAt { get; set; }

    /// <summary>UTC ticks.</summary>
    public long ExpiresAt { get; set; }

    /// <summary>Nano-units.</summary>
    public long? SettledAmount { get; set; }

    public CreditReservation ToReservation() => new()
    {
        Id = Id,
        AccountId = AccountId,
        Amount = new Money(Amount),
        IdempotencyKey = IdempotencyKey,
        Reference = Reference,
        State = (ReservationState)State,
        CreatedAt = StoredTime.FromTicks(CreatedAt),
        ExpiresAt = StoredTime.FromTicks(ExpiresAt),
        SettledAmount = SettledAmount is { } settled ? new Money(settled) : null,
    };
}
