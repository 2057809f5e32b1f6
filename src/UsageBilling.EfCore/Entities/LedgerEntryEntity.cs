namespace UsageBilling.EntityFrameworkCore;

/// <summary>A row of the ledger table.</summary>
internal sealed class LedgerEntryEntity
{
    /// <summary>
    /// Database-generated and increasing. An entry is inserted while its account's balance row is locked, so within an
    /// account the sequence follows the order in which the balance moved; the ledger pages by it.
    /// </summary>
    public long Sequence { get; set; }

    public string Id { get; set; } = null!;

    public string AccountId { get; set; } = null!;

    /// <summary>A <see cref="LedgerEntryKind"/>.</summary>
    public int Kind { get; set; }

    /// <summary>Nano-units, signed.</summary>
    public long Amount { get; set; }

    /// <summary>Nano-units.</summary>
    public long BalanceAfter { get; set; }

    public string IdempotencyKey { get; set; } = null!;

    public string? ReservationId { get; set; }

    public string? Reference { get; set; }

    public string? Reason { get; set; }

    /// <summary>UTC ticks.</summary>
    public long CreatedAt { get; set; }

    public LedgerEntry ToEntry() => new()
    {
        Id = Id,
        AccountId = AccountId,
        Kind = (LedgerEntryKind)Kind,
        Amount = new Money(Amount),
        BalanceAfter = new Money(BalanceAfter),
        IdempotencyKey = IdempotencyKey,
        ReservationId = ReservationId,
        Reference = Reference,
        Reason = Reason,
        CreatedAt = StoredTime.FromTicks(CreatedAt),
    };
}
