namespace UsageBilling.EntityFrameworkCore;

/// <summary>Options of the Entity Framework Core stores.</summary>
public sealed class UsageBillingEntityFrameworkCoreOptions
{
    /// <summary>
    /// Whether to create the database and its tables at start-up when they do not exist
    /// (<c>Database.EnsureCreated()</c>). Meant for SQLite samples and development: it creates every table of the
    /// context and never changes an existing schema. In production, create the schema with migrations or with the
    /// scripts shipped in the package's <c>Schema</c> folder. Default <see langword="false"/>.
    /// </summary>
    public bool CreateDatabaseOnStartup { get; set; }

    /// <summary>How often expired rate-limit counters are deleted (in the background, in batches). Default 1 minute.</summary>
    public TimeSpan ExpiredCounterCleanupInterval { get; set; } = TimeSpan.FromMinutes(1);
}
