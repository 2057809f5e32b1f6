namespace UsageBilling.EntityFrameworkCore;

/// <summary>A row of the balances table: one per account that ever had a money move or a reservation.</summary>
internal sealed class CreditBalanceEntity
{
    public string AccountId { get; set; } = null!;

    /// <summary>The sum of the account's ledger, in nano-units.</summary>
    public long Balance { get; set; }

    /// <summary>The sum of the account's active reservations, in nano-units.</summary>
    public long Reserved { get; set; }
}
