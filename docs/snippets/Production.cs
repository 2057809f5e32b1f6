using Microsoft.EntityFrameworkCore;
using MongoDB.Driver;
using UsageBilling.Mongo;

namespace DocsSnippets;

internal static class Production
{
    public static void OwnContext(WebApplicationBuilder builder)
    {
        // <snippet:production-own-context-registration>
        builder.Services.AddDbContextFactory<AppDbContext>(ef => ef.UseNpgsql(
            builder.Configuration.GetConnectionString("App"),
            npgsql => npgsql.EnableRetryOnFailure()));
        builder.Services.AddUsageBilling(builder.Configuration.GetSection("UsageBilling"))
            .UseEntityFrameworkCore<AppDbContext>();
        // </snippet:production-own-context-registration>
    }

    public static void ReadyContext(WebApplicationBuilder builder)
    {
        // <snippet:production-ready-context>
        builder.Services.AddUsageBilling(builder.Configuration.GetSection("UsageBilling"))
            .UseEntityFrameworkCore(ef => ef.UseNpgsql(builder.Configuration.GetConnectionString("Billing")));
        // </snippet:production-ready-context>
    }

    public static void Mongo(WebApplicationBuilder builder)
    {
        // <snippet:production-mongo>
        builder.Services.AddUsageBilling(builder.Configuration.GetSection("UsageBilling"))
            .UseMongo(
                builder.Configuration.GetConnectionString("Billing")!,   // e.g. mongodb://db1,db2,db3/?replicaSet=rs0&w=majority
                "usagebilling");   // creates its indexes at start-up (CreateIndexesOnStartup, on by default)
        // </snippet:production-mongo>
    }

    public static async Task MongoIndexesAsync(string connectionString, CancellationToken cancellationToken)
    {
        // <snippet:production-mongo-indexes>
        // A deployment step (a migration job, an init container): create every index before the first request.
        var database = new MongoClient(connectionString).GetDatabase("usagebilling");
        await new UsageBillingMongoIndexes(database).EnsureIndexesAsync(cancellationToken);
        // </snippet:production-mongo-indexes>
    }

    public static void Shutdown(WebApplicationBuilder builder)
    {
        // <snippet:production-shutdown>
        // The usage log drains its queue on shutdown for as long as the host allows (default 30 s).
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(60));
        // </snippet:production-shutdown>
    }
}
