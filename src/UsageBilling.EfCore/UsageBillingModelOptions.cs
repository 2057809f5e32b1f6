namespace UsageBilling.EntityFrameworkCore;

/// <summary>Where the UsageBilling tables go in a model, set through <c>modelBuilder.UseUsageBilling(o => ...)</c>.</summary>
public sealed class UsageBillingModelOptions
{
    /// <summary>The prefix of every table name. Default <c>billing_</c> (tables <c>billing_accounts</c>, <c>billing_credit_ledger</c>, ...).</summary>
    public string TablePrefix { get; set; } = "billing_";

    /// <summary>The schema of the tables, or <see langword="null"/> (the default) for the database's default schema.</summary>
    public string? Schema { get; set; }
}
