namespace UsageBilling;

/// <summary>How a ledger post ended.</summary>
public enum PostStatus
{
    /// <summary>The entry was written.</summary>
    Posted = 0,

    /// <summary>An entry with the same idempotency key exists; <see cref="PostResult.Entry"/> is that entry and nothing moved.</summary>
    Duplicate = 1,

    /// <summary>The move would have taken the available balance below zero; nothing moved.</summary>
    InsufficientCredit = 2,

    /// <summary>The move would have taken the balance past ±<see cref="CreditBalance.MaxBalance"/>; nothing moved.</summary>
    LimitExceeded = 3,
}

/// <summary>The outcome of <see cref="ICreditStore.PostAsync"/>.</summary>
/// <param name="Status">How the post ended.</param>
/// <param name="Entry">The entry written, or the existing one for <see cref="PostStatus.Duplicate"/>.</param>
public sealed record PostResult(PostStatus Status, LedgerEntry? Entry);
