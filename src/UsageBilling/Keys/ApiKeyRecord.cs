namespace UsageBilling;

/// <summary>A stored API key. The plaintext is never stored: only <see cref="Hash"/>.</summary>
public sealed record ApiKeyRecord
{
    /// <summary>The key id (for example <c>key_0192...</c>); safe to show and log.</summary>
    public required string Id { get; init; }

    /// <summary>The owning account.</summary>
    public required string AccountId { get; init; }

    /// <summary>A display name chosen by whoever created the key.</summary>
    public required string Name { get; init; }

    /// <summary>The first characters of the key (prefix plus a few characters), safe to show so users can recognise it.</summary>
    public required string DisplayPrefix { get; init; }

    /// <summary>The lowercase hex SHA-256 (or HMAC-SHA256 with the configured pepper) of the full key.</summary>
    public required string Hash { get; init; }

    /// <summary>When the key was created.</summary>
    public required DateTimeOffset CreatedAt { get; init; }

    /// <summary>When the key stops working, if ever.</summary>
    public DateTimeOffset? ExpiresAt { get; init; }

    /// <summary>When the key was revoked, if it was.</summary>
    public DateTimeOffset? RevokedAt { get; init; }

    /// <summary>When the key was last seen on a request (updated in batches, off the request path).</summary>
    public DateTimeOffset? LastUsedAt { get; init; }

    /// <summary>Limits that override the plan's defaults for this key; <see langword="null"/> fields keep the plan's value.</summary>
    public RequestLimits? Limits { get; init; }

    /// <summary>Spend caps for this key alone; <see langword="null"/> for none.</summary>
    public SpendBudget? Budget { get; init; }
}
