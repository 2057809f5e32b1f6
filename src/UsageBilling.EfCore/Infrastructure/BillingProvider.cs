namespace UsageBilling.EntityFrameworkCore;

/// <summary>The database engines the stores write provider-specific SQL for.</summary>
internal enum BillingProvider
{
    Sqlite,
    PostgreSql,
}
