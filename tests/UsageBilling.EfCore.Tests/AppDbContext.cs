using Microsoft.EntityFrameworkCore;

namespace UsageBilling.EntityFrameworkCore.Tests;

/// <summary>An application's own context: its own table, plus the UsageBilling tables added with one line.</summary>
public sealed class AppDbContext(DbContextOptions<AppDbContext> options) : DbContext(options)
{
    public DbSet<Order> Orders => Set<Order>();

    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        modelBuilder.Entity<Order>().ToTable("orders");
        modelBuilder.UseUsageBilling(o => o.TablePrefix = "acme_");
    }
}

/// <summary>The same with the UsageBilling tables in their own schema (PostgreSQL).</summary>
public sealed class SchemaAppDbContext(DbContextOptions<SchemaAppDbContext> options) : DbContext(options)
{
    public DbSet<Order> Orders => Set<Order>();

    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        modelBuilder.Entity<Order>().ToTable("orders");
        modelBuilder.UseUsageBilling(o => o.Schema = "billing");
    }
}

/// <summary>A context whose model lacks the UsageBilling tables.</summary>
public sealed class ContextWithoutBilling(DbContextOptions<ContextWithoutBilling> options) : DbContext(options)
{
    public DbSet<Order> Orders => Set<Order>();
}

public sealed class Order
{
    public int Id { get; set; }

    public string Customer { get; set; } = "";
}
