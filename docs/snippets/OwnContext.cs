using Microsoft.EntityFrameworkCore;

namespace DocsSnippets;

// <snippet:production-own-context>
public sealed class AppDbContext(DbContextOptions<AppDbContext> options) : DbContext(options)
{
    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        base.OnModelCreating(modelBuilder);
        modelBuilder.UseUsageBilling(o =>
        {
            o.Schema = "billing";        // default: the database's default schema
            o.TablePrefix = "billing_";  // the default
        });
    }
}
// </snippet:production-own-context>
