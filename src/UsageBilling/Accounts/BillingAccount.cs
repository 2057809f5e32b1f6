namespace UsageBilling;

/// <summary>An account owns API keys and a credit balance.</summary>
public sealed record BillingAccount
{
    /// <summary>The account id (for example <c>acct_0192...</c>).</summary>
    public required string Id { get; init; }

    /// <summary>A display name.</summary>
    public required string Name { get; init; }

    /// <summary>The plan whose default limits and prices apply to the account's keys.</summary>
    public required string Plan { get; init; }

    /// <summary>When the account was created.</summary>
    public required DateTimeOffset CreatedAt { get; init; }

    /// <summary>Spend caps for the whole account, across all its keys; <see langword="null"/> for none.</summary>
    public SpendBudget? Budget { get; init; }
}
