using Microsoft.EntityFrameworkCore;
using MongoDB.Driver;
using UsageBilling;

namespace DocsSnippets;

internal static class Configuration
{
    public static void InCode(WebApplicationBuilder builder)
    {
        // <snippet:configuration-code>
        builder.Services.AddUsageBilling(builder.Configuration.GetSection("UsageBilling"), o =>
        {
            // Runs after the configuration is bound, so it wins over appsettings.json.
            o.Keys.Prefix = "sk-acme-";
            o.Plans.Limits["free"] = new RequestLimits { RequestsPerMinute = 60, MonthlyRequests = 10_000 };
            o.Pricing.Endpoints["report"] = 0.05m;
            o.Alerts.LowBalance = Money.FromUnits(5m);        // or "Alerts": { "LowBalance": 5 } in configuration
            o.IsBillableStatusCode = status => status is >= 200 and < 300;   // also a function: code only
        });
        // </snippet:configuration-code>
    }

    public static void EntityFrameworkCore(WebApplicationBuilder builder)
    {
        // <snippet:configuration-efcore>
        builder.Services.AddUsageBilling()
            .UseEntityFrameworkCore(
                ef => ef.UseNpgsql(builder.Configuration.GetConnectionString("Billing")),
                o =>
                {
                    o.CreateDatabaseOnStartup = false;                          // the default
                    o.ExpiredCounterCleanupInterval = TimeSpan.FromMinutes(5);  // default 1 minute
                });
        // </snippet:configuration-efcore>
    }

    public static void Mongo(WebApplicationBuilder builder)
    {
        // <snippet:configuration-mongo>
        builder.Services.AddUsageBilling()
            .UseMongo(o =>
            {
                o.ConnectionString = builder.Configuration.GetConnectionString("Billing");
                o.DatabaseName = "billing";
                o.CreateIndexesOnStartup = true;
                o.AccountsCollectionName = "acme_accounts";   // every collection can be renamed
            });

        // Or with a client the application owns:
        builder.Services.AddSingleton<IMongoClient>(_ => new MongoClient(builder.Configuration.GetConnectionString("Billing")));
        builder.Services.AddUsageBilling()
            .UseMongo(sp => sp.GetRequiredService<IMongoClient>().GetDatabase("billing"));
        // </snippet:configuration-mongo>
    }

    public static void Webhook(WebApplicationBuilder builder)
    {
        // <snippet:configuration-webhook>
        builder.Services.AddUsageBilling()
            .AddWebhookNotifier(o =>
            {
                o.Url = new Uri("https://billing-events.example.com/usagebilling");
                o.Secret = builder.Configuration["Billing:WebhookSecret"] ?? "";   // whsec_<base64>, or 32+ characters
                o.Timeout = TimeSpan.FromSeconds(5);
                o.MaxAttempts = 6;
            });
        // </snippet:configuration-webhook>
    }
}
