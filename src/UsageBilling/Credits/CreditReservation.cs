namespace UsageBilling;

/// <summary>The life cycle of a reservation.</summary>
public enum ReservationState
{
    /// <summary>Holding credit; waiting to be settled or released.</summary>
    Active = 0,

    /// <summary>Settled: the actual cost was charged and the hold is gone.</summary>
    Settled = 1,

    /// <summary>Released without a charge.</summary>
    Released = 2,

    /// <summary>Released by the sweeper because it was neither settled nor released in time.</summary>
    Expired = 3,
}

/// <summary>A hold on part of an account's balance while a billed call runs.</summary>
public sealed record CreditReservation
{
    /// <summary>The reservation id (for example <c>res_0192...</c>).</summary>
    public required string Id { get; init; }

    /// <summary>The account whose credit is held.</summary>
    public required string AccountId { get; init; }

    /// <summary>The amount held.</summary>
    public required Money Amount { get; init; }

    /// <summary>The key that makes the reservation happen at most once per account.</summary>
    public required string IdempotencyKey { get; init; }

    /// <summary>What the hold is for (for example <c>GET /v1/quote</c>); a replay with the same key must match it.</summary>
    public string? Reference { get; init; }

    /// <summary>Where the reservation is in its life cycle.</summary>
    public required ReservationState State { get; init; }

    /// <summary>When the hold was placed.</summary>
    public required DateTimeOffset CreatedAt { get; init; }

    /// <summary>When the sweeper may release the hold if nobody settles or releases it.</summary>
    public required DateTimeOffset ExpiresAt { get; init; }

    /// <summary>The amount charged when the reservation was settled.</summary>
    public Money? SettledAmount { get; init; }
}

/// <summary>An account's balance and how much of it is held by active reservations.</summary>
/// <param name="Balance">The sum of the account's ledger.</param>
/// <param name="Reserved">The sum of the account's active reservations.</param>
public readonly record struct CreditBalance(Money Balance, Money Reserved)
{
    /// <summary>What a new reservation can take: <see cref="Balance"/> minus <see cref="Reserved"/>.</summary>
    public Money Available => Balance - Reserved;

    /// <summary>
    /// The largest balance an account may reach, in either direction: 1,000,000,000 currency units (far inside what
    /// <see cref="Money"/> and a 64-bit database column hold, so sums of balances, holds and charges cannot overflow).
    /// Every store refuses a ledger post that would take the balance past it with <see cref="PostStatus.LimitExceeded"/>.
    /// </summary>
    public static Money MaxBalance { get; } = new(1_000_000_000L * Money.NanosPerUnit);

    /// <summary>Whether <paramref name="balance"/> plus <paramref name="change"/> stays within ±<see cref="MaxBalance"/> (computed without overflow).</summary>
    public static bool IsWithinLimit(Money balance, Money change)
    {
        var after = (decimal)balance.Nanos + change.Nanos;
        return after <= MaxBalance.Nanos && after >= -MaxBalance.Nanos;
    }
}
