// The getting-started Program.cs: the one file of this project with top-level statements.
// <snippet:getting-started-program>
using System.Security.Cryptography;
using System.Text;
using Microsoft.EntityFrameworkCore;
using UsageBilling;

var builder = WebApplication.CreateBuilder(args);

builder.Services.AddUsageBilling(builder.Configuration.GetSection("UsageBilling"))
    .UseEntityFrameworkCore(
        ef => ef.UseSqlite("Data Source=billing.db"),
        o => o.CreateDatabaseOnStartup = true);   // creates billing.db and its tables; for development

// The admin API is yours to protect. A stand-in for your own staff sign-in (cookie, JWT, ...):
// a token from configuration in the X-Admin-Token header, compared in constant time.
builder.Services.AddAuthorizationBuilder()
    .AddPolicy("billing-admin", policy => policy.RequireAssertion(context =>
    {
        var expected = builder.Configuration["Admin:Token"];
        var presented = (context.Resource as HttpContext)?.Request.Headers["X-Admin-Token"].ToString();
        return !string.IsNullOrEmpty(expected) && presented is not null
            && CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(presented), Encoding.UTF8.GetBytes(expected));
    }));

var app = builder.Build();

app.UseAuthentication();   // the "ApiKey" scheme is registered by AddUsageBilling
app.UseAuthorization();
app.UseUsageBilling();     // limits, credits, metering, usage log

app.MapGet("/v1/quote", () => new { symbol = "ACME", price = 123.45m })
    .RequireApiKey()
    .WithCost(0.01m);      // 0.01 currency units per successful call

app.MapUsageBillingAdmin("/admin/billing").RequireAuthorization("billing-admin");

app.Run();
// </snippet:getting-started-program>

/// <summary>The snippets' entry point.</summary>
public partial class Program;
