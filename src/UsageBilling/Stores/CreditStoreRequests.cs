namespace UsageBilling.Stores;

/// <summary>A request to hold credit on an account.</summary>
public sealed record CreditReservationRequest
{
    /// <summary>The id to give the new reservation.</summary>
    public required string ReservationId { get; init; }

    /// <summary>The account to hold credit on.</summary>
    public required string AccountId { get; init; }

    /// <summary>The amount to hold; zero or more.</summary>
    public required Money Amount { get; init; }

    /// <summary>The key that makes this reservation happen at most once per account.</summary>
    public required string IdempotencyKey { get; init; }

    /// <summary>What the hold is for; a reservation with the same key but another reference is a conflict.</summary>
    public string? Reference { get; init; }

    /// <summary>Now.</summary>
    public required DateTimeOffset CreatedAt { get; init; }

    /// <summary>When the hold may be released by the sweeper.</summary>
    public required DateTimeOffset ExpiresAt { get; init; }
}

/// <summary>How a reservation attempt ended.</summary>
public enum ReserveStatus
{
    /// <summary>The credit is held; <see cref="ReserveResult.Reservation"/> is the new reservation.</summary>
    Reserved = 0,

    /// <summary>The available balance is smaller than the amount; nothing changed.</summary>
    InsufficientCredit = 1,

    /// <summary>
    /// A reservation with the same idempotency key already exists (in any state: reservations are never revived);
    /// nothing changed and <see cref="ReserveResult.Reservation"/> is the existing one.
    /// </summary>
    Duplicate = 2,
}

/// <summary>The outcome of <see cref="ICreditStore.ReserveAsync"/>.</summary>
/// <param name="Status">How the attempt ended.</param>
/// <param name="Reservation">The reservation held, or the existing one for <see cref="ReserveStatus.Duplicate"/>.</param>
/// <param name="Balance">The balance after the attempt, when the store knows it cheaply.</param>
public sealed record ReserveResult(ReserveStatus Status, CreditReservation? Reservation, CreditBalance? Balance = null);

/// <summary>How a settle attempt ended.</summary>
public enum SettleStatus
{
    /// <summary>The actual amount was charged and the hold removed.</summary>
    Settled = 0,

    /// <summary>The reservation was settled before; nothing changed.</summary>
    AlreadySettled = 1,

    /// <summary>The reservation was released (or never existed); nothing was charged.</summary>
    NotActive = 2,
}

/// <summary>The outcome of <see cref="ICreditStore.SettleAsync"/>.</summary>
/// <param name="Status">How the attempt ended.</param>
/// <param name="Entry">The charge written, if the settled amount was not zero.</param>
public sealed record SettleResult(SettleStatus Status, LedgerEntry? Entry);

/// <summary>A money move that does not go through a reservation: a grant, refund, adjustment or direct charge.</summary>
public sealed record LedgerPostRequest
{
    /// <summary>The id to give the new entry.</summary>
    public required string EntryId { get; init; }

    /// <summary>The account.</summary>
    public required string AccountId { get; init; }

    /// <summary>The kind of move.</summary>
    public required LedgerEntryKind Kind { get; init; }

    /// <summary>The signed amount; not zero.</summary>
    public required Money Amount { get; init; }

    /// <summary>The key that makes this move happen at most once per account.</summary>
    public required string IdempotencyKey { get; init; }

    /// <summary>
    /// When <see langword="true"/> and <see cref="Amount"/> is negative, the move is refused if it would take the
    /// available balance below zero. Charges for usage that already happened set this to <see langword="false"/>.
    /// </summary>
    public bool RequireAvailableBalance { get; init; } = true;

    /// <summary>What the move is for, if known.</summary>
    public string? Reference { get; init; }

    /// <summary>A free-text reason.</summary>
    public string? Reason { get; init; }

    /// <summary>Now.</summary>
    public required DateTimeOffset CreatedAt { get; init; }
}
