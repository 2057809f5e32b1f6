namespace UsageBilling;

/// <summary>What kind of money move a ledger entry records.</summary>
public enum LedgerEntryKind
{
    /// <summary>Credits added to the account (a purchase or a gift).</summary>
    Grant = 0,

    /// <summary>A charge for usage, from settling a reservation or from usage recorded without one.</summary>
    Charge = 1,

    /// <summary>Credits given back for an earlier charge.</summary>
    Refund = 2,

    /// <summary>A manual correction, positive or negative.</summary>
    Adjustment = 3,
}

/// <summary>
/// One money move on an account. The account's balance always equals the sum of its entries' <see cref="Amount"/>.
/// </summary>
public sealed record LedgerEntry
{
    /// <summary>The entry id (time-ordered; for example <c>led_0192...</c>).</summary>
    public required string Id { get; init; }

    /// <summary>The account whose balance moved.</summary>
    public required string AccountId { get; init; }

    /// <summary>What kind of move this is.</summary>
    public required LedgerEntryKind Kind { get; init; }

    /// <summary>The signed change: positive adds credit, negative removes it.</summary>
    public required Money Amount { get; init; }

    /// <summary>The balance right after this entry was applied.</summary>
    public required Money BalanceAfter { get; init; }

    /// <summary>The key that makes this move happen at most once per account.</summary>
    public required string IdempotencyKey { get; init; }

    /// <summary>The reservation this charge settled, if any.</summary>
    public string? ReservationId { get; init; }

    /// <summary>What the money was for (for example <c>GET /v1/quote</c>), if known.</summary>
    public string? Reference { get; init; }

    /// <summary>A free-text reason given by an operator, if any.</summary>
    public string? Reason { get; init; }

    /// <summary>When the entry was written.</summary>
    public required DateTimeOffset CreatedAt { get; init; }
}

/// <summary>A page of ledger entries, newest first.</summary>
/// <param name="Entries">The entries on this page.</param>
/// <param name="NextCursor">Pass this to get the next (older) page; <see langword="null"/> on the last page.</param>
public sealed record LedgerPage(IReadOnlyList<LedgerEntry> Entries, string? NextCursor);
