namespace UsageBilling.EntityFrameworkCore;

/// <summary>A row of the provider keys table: one per account and provider.</summary>
internal sealed class ProviderKeyEntity
{
    public string Id { get; set; } = null!;

    public string AccountId { get; set; } = null!;

    public string Provider { get; set; } = null!;

    /// <summary>The Data Protection payload of the key; never the key itself.</summary>
    public string ProtectedKey { get; set; } = null!;

    public string Masked { get; set; } = null!;

    public bool Enabled { get; set; }

    /// <summary>UTC ticks.</summary>
    public long CreatedAt { get; set; }

    /// <summary>UTC ticks.</summary>
    public long UpdatedAt { get; set; }

    public ProviderKey ToKey() => new()
    {
        Id = Id,
        AccountId = AccountId,
        Provider = Provider,
        ProtectedKey = ProtectedKey,
        Masked = Masked,
        Enabled = Enabled,
        CreatedAt = StoredTime.FromTicks(CreatedAt),
        UpdatedAt = StoredTime.FromTicks(UpdatedAt),
    };
}
