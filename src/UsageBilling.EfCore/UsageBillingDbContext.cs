using Microsoft.EntityFrameworkCore;

namespace UsageBilling.EntityFrameworkCore;

/// <summary>
/// A ready context holding only the UsageBilling tables, with the default names (prefix <c>billing_</c>, default
/// schema). <c>AddUsageBilling().UseEntityFrameworkCore(ef => ef.UseSqlite("Data Source=billing.db"))</c> registers it.
/// To keep the tables in your own context (and its migrations), call <c>modelBuilder.UseUsageBilling()</c> there instead.
/// </summary>
public class UsageBillingDbContext : DbContext
{
    /// <summary>Creates the context with options registered for it.</summary>
    public UsageBillingDbContext(DbContextOptions<UsageBillingDbContext> options)
        : base(options)
    {
    }

    /// <summary>Creates a derived context.</summary>
    protected UsageBillingDbContext(DbContextOptions options)
        : base(options)
    {
    }

    /// <inheritdoc/>
    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        base.OnModelCreating(modelBuilder);
        modelBuilder.UseUsageBilling();
    }
}
