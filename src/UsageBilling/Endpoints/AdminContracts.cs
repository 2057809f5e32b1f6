namespace UsageBilling;

internal sealed record CreateAccountRequest(string? Name, string? Plan);

internal sealed record AccountResponse(string Id, string Name, string Plan, DateTimeOffset CreatedAt, Money Balance, Money Reserved, Money Available);

internal sealed record PostCreditsRequest(Money? Amount, string? Kind, string? Reason, string? IdempotencyKey);

internal sealed record LedgerEntryResponse(string Id, string AccountId, string Kind, Money Amount, Money BalanceAfter, string? ReservationId, string? Reference, string? Reason, DateTimeOffset CreatedAt)
{
    public static LedgerEntryResponse From(LedgerEntry entry) => new(entry.Id, entry.AccountId, KindName(entry.Kind), entry.Amount, entry.BalanceAfter,
        entry.ReservationId, entry.Reference, entry.Reason, entry.CreatedAt);

    public static string KindName(LedgerEntryKind kind) => kind switch
    {
        LedgerEntryKind.Grant => "grant",
        LedgerEntryKind.Charge => "charge",
        LedgerEntryKind.Refund => "refund",
        _ => "adjustment",
    };
}

internal sealed record LedgerPageResponse(IReadOnlyList<LedgerEntryResponse> Entries, string? NextCursor);

internal sealed record CreateKeyRequest(string? Name, DateTimeOffset? ExpiresAt, RequestLimits? Limits);

internal sealed record ApiKeyResponse(string Id, string AccountId, string Name, string Prefix, DateTimeOffset CreatedAt, DateTimeOffset? ExpiresAt,
    DateTimeOffset? RevokedAt, DateTimeOffset? LastUsedAt, RequestLimits? Limits)
{
    public static ApiKeyResponse From(ApiKeyRecord key) => new(key.Id, key.AccountId, key.Name, key.DisplayPrefix, key.CreatedAt, key.ExpiresAt,
        key.RevokedAt, key.LastUsedAt, key.Limits);
}

internal sealed record CreatedApiKeyResponse(string Id, string AccountId, string Name, string Prefix, string Key, DateTimeOffset CreatedAt,
    DateTimeOffset? ExpiresAt, RequestLimits? Limits);

internal sealed record UsagePageResponse(IReadOnlyList<UsageRecord> Records, string? NextCursor);
