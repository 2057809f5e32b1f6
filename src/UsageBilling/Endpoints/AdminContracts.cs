namespace UsageBilling;

internal sealed record CreateAccountRequest(string? Name, string? Plan);

internal sealed record AccountResponse(string Id, string Name, string Plan, DateTimeOffset CreatedAt, Money Balance, Money Reserved, Money Available, SpendBudget? Budget);

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

/// <summary>The body of a key update: only the properties present change.</summary>
internal sealed record UpdateKeyRequest(RequestLimits? Limits, SpendBudget? Budget);

internal sealed record ApiKeyResponse(string Id, string AccountId, string Name, string Prefix, DateTimeOffset CreatedAt, DateTimeOffset? ExpiresAt,
    DateTimeOffset? RevokedAt, DateTimeOffset? LastUsedAt, RequestLimits? Limits, SpendBudget? Budget)
{
    public static ApiKeyResponse From(ApiKeyRecord key) => new(key.Id, key.AccountId, key.Name, key.DisplayPrefix, key.CreatedAt, key.ExpiresAt,
        key.RevokedAt, key.LastUsedAt, key.Limits, key.Budget);
}

internal sealed record PeriodResponse(DateTimeOffset From, DateTimeOffset To);

internal sealed record SummaryResponse(PeriodResponse Period, IReadOnlyList<UsageSummary> Rows);

internal sealed record QuotaStatusResponse(string KeyId, string AccountId, string Name, bool Revoked, long Used, long? Limit, long? Remaining, DateTimeOffset ResetAt);

internal sealed record QuotaPageResponse(IReadOnlyList<QuotaStatusResponse> Keys, string? NextCursor);

internal sealed record ModelPriceResponse(string Model, Money Input, Money Output, Money CachedInput, Money RequestFee, DateTimeOffset? EffectiveFrom, bool Current)
{
    public static ModelPriceResponse From(ModelPrice price, bool current) => new(price.Model, price.InputPerMillion, price.OutputPerMillion,
        price.CachedInputPerMillion, price.RequestFee, price.EffectiveFrom, current);
}

internal sealed record SetModelPriceRequest(Money? Input, Money? Output, Money? CachedInput, Money? RequestFee, DateTimeOffset? EffectiveFrom);

internal sealed record PlanResponse(string Plan, decimal MarkupPercent, RequestLimits? Limits, bool Default);

internal sealed record CreatedApiKeyResponse(string Id, string AccountId, string Name, string Prefix, string Key, DateTimeOffset CreatedAt,
    DateTimeOffset? ExpiresAt, RequestLimits? Limits);

internal sealed record BalanceResponse(string AccountId, Money Balance, Money Reserved, Money Available);

internal sealed record BudgetStatusResponse(string Budget, Money Cap, Money Spent, Money Remaining, DateTimeOffset ResetAt);

internal sealed record LimitStatusResponse(string Policy, long Limit, long Used, long Remaining, DateTimeOffset ResetAt);

internal sealed record SelfLimitsResponse(string KeyId, string Plan, RequestLimits Limits, IReadOnlyList<LimitStatusResponse> Windows, IReadOnlyList<BudgetStatusResponse> Budgets);

internal sealed record SelfUsageResponse(PeriodResponse Period, UsageSummary Totals, IReadOnlyList<UsageSummary> Daily, IReadOnlyList<UsageSummary> ByModel);

internal sealed record UsagePageResponse(IReadOnlyList<UsageRecord> Records, string? NextCursor);
