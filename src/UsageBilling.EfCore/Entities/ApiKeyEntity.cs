namespace UsageBilling.EntityFrameworkCore;

/// <summary>A row of the API keys table.</summary>
internal sealed class ApiKeyEntity
{
    public string Id { get; set; } = null!;

    public string AccountId { get; set; } = null!;

    public string Name { get; set; } = null!;

    public string DisplayPrefix { get; set; } = null!;

    public string Hash { get; set; } = null!;

    /// <summary>UTC ticks.</summary>
    public long CreatedAt { get; set; }

    public long? ExpiresAt { get; set; }

    public long? RevokedAt { get; set; }

    public long? LastUsedAt { get; set; }

    /// <summary>The key's <see cref="RequestLimits"/> overrides as JSON (see <see cref="StoredJson"/>).</summary>
    public string? Limits { get; set; }

    /// <summary>The key's <see cref="SpendBudget"/> as JSON (see <see cref="StoredJson"/>).</summary>
    public string? Budget { get; set; }

    public static ApiKeyEntity From(ApiKeyRecord key) => new()
    {
        Id = key.Id,
        AccountId = key.AccountId,
        Name = key.Name,
        DisplayPrefix = key.DisplayPrefix,
        Hash = key.Hash,
        CreatedAt = StoredTime.ToTicks(key.CreatedAt),
        ExpiresAt = StoredTime.ToTicks(key.ExpiresAt),
        RevokedAt = StoredTime.ToTicks(key.RevokedAt),
        LastUsedAt = StoredTime.ToTicks(key.LastUsedAt),
        Limits = StoredJson.Write(key.Limits),
        Budget = StoredJson.Write(key.Budget),
    };

    public ApiKeyRecord ToRecord() => new()
    {
        Id = Id,
        AccountId = AccountId,
        Name = Name,
        DisplayPrefix = DisplayPrefix,
        Hash = Hash,
        CreatedAt = StoredTime.FromTicks(CreatedAt),
        ExpiresAt = StoredTime.FromTicks(ExpiresAt),
        RevokedAt = StoredTime.FromTicks(RevokedAt),
        LastUsedAt = StoredTime.FromTicks(LastUsedAt),
        Limits = StoredJson.Read<RequestLimits>(Limits),
        Budget = StoredJson.Read<SpendBudget>(Budget),
    };
}
