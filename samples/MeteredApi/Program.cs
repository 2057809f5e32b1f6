using Samples.Shared;
using UsageBilling;

var builder = WebApplication.CreateBuilder(args);

// Billing:Store picks the backend: SQLite (billing.db, the default), PostgreSQL, Mongo or InMemory.
builder.Services.AddHealthChecks().AddUsageBilling();
builder.Services.AddUsageBilling(builder.Configuration.GetSection("UsageBilling"))
    .UseConfiguredStore(builder.Configuration, builder.Environment);

var adminToken = builder.Configuration["Sample:AdminToken"];
if (string.IsNullOrEmpty(adminToken))
{
    if (!builder.Environment.IsDevelopment())
    {
        throw new InvalidOperationException(
            "Set Sample:AdminToken (for example the environment variable Sample__AdminToken) to protect the admin endpoints; only Development has a default.");
    }
}

var quotePrice = builder.Configuration.GetValue("Sample:QuotePrice", 0.01m);

builder.Services.AddOpenApi();

var app = builder.Build();

app.UseAuthentication();
app.UseAuthorization();
app.UseUsageBilling();

app.MapGet("/", () => Results.Text("MeteredApi: see README.md for a curl walkthrough."));

// Metered endpoints: every call needs an API key, counts against its limits and is charged.
app.MapGet("/v1/quote", (HttpContext context) => new
{
    symbol = context.Request.Query["symbol"].FirstOrDefault() ?? "ACME",
    price = 123.45m,
    at = DateTimeOffset.UtcNow,
})
    .RequireApiKey()
    .WithCost(quotePrice);

app.MapGet("/v1/reports/{id}", (string id) => id.Length > 64
        ? Results.Problem(statusCode: 400, title: "Invalid report id", detail: "Report ids are at most 64 characters.")
        : Results.Ok(new { id, rows = 42, status = "ready" }))
    .RequireApiKey()
    .WithPrice("report");

// Admin API, protected here by a shared token header; a real app would use its own authorization policy.
// The caller's own balance, usage, limits and ledger, authenticated by its API key.
app.MapUsageBillingSelfService("/v1/billing");

// The OpenAPI description of every endpoint above, admin and self-service included: GET /openapi/v1.json.
app.MapOpenApi();

app.MapUsageBillingAdmin("/admin/billing")
    .RequireAdminToken(_ => adminToken);

app.MapHealthChecks("/healthz");

app.Run();

/// <summary>The sample's entry point, public so that tests can host it.</summary>
public partial class Program;
