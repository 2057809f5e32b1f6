using Microsoft.EntityFrameworkCore;
using UsageBilling;

namespace Samples.Shared;

/// <summary>
/// Picks the samples' billing store from configuration <c>Billing:Store</c>:
/// <c>Sqlite</c> (the default; <c>billing.db</c> in the content root, created at start-up, works offline),
/// <c>PostgreSQL</c> (<c>ConnectionStrings:Billing</c>, for example <c>Host=127.0.0.1;Username=...;Password=...;Database=billing</c>),
/// <c>Mongo</c> (<c>ConnectionStrings:Billing</c> as a mongodb:// URI, database <c>Billing:MongoDatabase</c>, default <c>usagebilling</c>),
/// or <c>InMemory</c>.
/// </summary>
internal static class BillingStoreSelection
{
    public static UsageBillingBuilder UseConfiguredStore(this UsageBillingBuilder billing, IConfiguration configuration, IHostEnvironment environment)
    {
        var store = configuration["Billing:Store"] ?? "Sqlite";
        var connectionString = configuration.GetConnectionString("Billing");
        switch (store.ToUpperInvariant())
        {
            case "SQLITE":
                var sqlite = string.IsNullOrEmpty(connectionString) ? $"Data Source={Path.Combine(environment.ContentRootPath, "billing.db")}" : connectionString;
                return billing.UseEntityFrameworkCore(ef => ef.UseSqlite(sqlite), o => o.CreateDatabaseOnStartup = true);
            case "POSTGRESQL":
                return billing.UseEntityFrameworkCore(ef => ef.UseNpgsql(Required(connectionString, store)), o => o.CreateDatabaseOnStartup = true);
            case "MONGO":
                return billing.UseMongo(Required(connectionString, store), configuration["Billing:MongoDatabase"] ?? "usagebilling", o => o.CreateIndexesOnStartup = true);
            case "INMEMORY":
                return billing;
            default:
                throw new SampleConfigurationException($"Billing:Store is '{store}'; use Sqlite, PostgreSQL, Mongo or InMemory.");
        }
    }

    private static string Required(string? connectionString, string store)
        => string.IsNullOrEmpty(connectionString)
            ? throw new SampleConfigurationException($"Billing:Store is {store}: set ConnectionStrings:Billing (for example the environment variable ConnectionStrings__Billing).")
            : connectionString;
}
