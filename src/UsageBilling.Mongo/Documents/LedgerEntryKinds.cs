namespace UsageBilling.Mongo;

/// <summary>How <see cref="LedgerEntryKind"/> is stored.</summary>
internal static class LedgerEntryKinds
{
    public const string Grant = "grant";
    public const string Charge = "charge";
    public const string Refund = "refund";
    public const string Adjustment = "adjustment";

    public static string Format(LedgerEntryKind kind) => kind switch
    {
        LedgerEntryKind.Grant => Grant,
        LedgerEntryKind.Charge => Charge,
        LedgerEntryKind.Refund => Refund,
        LedgerEntryKind.Adjustment => Adjustment,
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "Unknown ledger entry kind."),
    };

    public static LedgerEntryKind Parse(string kind) => kind switch
    {
        Grant => LedgerEntryKind.Grant,
        Charge => LedgerEntryKind.Charge,
        Refund => LedgerEntryKind.Refund,
        Adjustment => LedgerEntryKind.Adjustment,
        _ => throw new FormatException($"Unknown ledger entry kind '{kind}'."),
    };
}
