namespace UsageBilling.EntityFrameworkCore;

/// <summary>A row of the accounts table.</summary>
internal sealed class AccountEntity
{
    public string Id { get; set; } = null!;

    public string Name { get; set; } = null!;

    public string Plan { get; set; } = null!;

    /// <summary>UTC ticks.</summary>
    public long CreatedAt { get; set; }

    /// <summary>The account's <see cref="SpendBudget"/> as JSON (see <see cref="StoredJson"/>).</summary>
    public string? Budget { get; set; }

    public static AccountEntity From(BillingAccount account) => new()
    {
        Id = account.Id,
        Name = account.Name,
        Plan = account.Plan,
        CreatedAt = StoredTime.ToTicks(account.CreatedAt),
        Budget = StoredJson.Write(account.Budget),
    };

    public BillingAccount ToAccount() => new()
    {
        Id = Id,
        Name = Name,
        Plan = Plan,
        CreatedAt = StoredTime.FromTicks(CreatedAt),
        Budget = StoredJson.Read<SpendBudget>(Budget),
    };
}
