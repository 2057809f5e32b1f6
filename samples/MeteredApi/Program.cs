using Microsoft.AspNetCore.Http.HttpResults;
using Samples.Shared;
using UsageBilling;

return SampleStartup.Run("MeteredApi", args, builder =>
{
    // Billing:Store picks the backend: SQLite (billing.db, the default), PostgreSQL, Mongo or InMemory.
    builder.Services.AddHealthChecks().AddUsageBilling();
    builder.Services.AddUsageBilling(builder.Configuration.GetSection("UsageBilling"))
        .UseConfiguredStore(builder.Configuration, builder.Environment);

    var adminToken = builder.Configuration["Sample:AdminToken"];
    if (string.IsNullOrEmpty(adminToken) && !builder.Environment.IsDevelopment())
    {
        throw new SampleConfigurationException(
            "set Sample:AdminToken (for example the environment variable Sample__AdminToken) to protect the admin endpoints; only Development has a default.");
    }

    var quotePrice = builder.Configuration.GetValue("Sample:QuotePrice", 0.01m);

    // The OpenAPI description (GET /openapi/v1.json); UsageBilling describes its own endpoints and metered responses.
    builder.Services.AddSampleOpenApi("MeteredApi", "A REST API with flat per-call prices, billed by UsageBilling.",
        ("MeteredApi", "The sample's own endpoints: metered ones need an API key and are charged per call."));

    var app = builder.Build();

    app.UseAuthentication();
    app.UseAuthorization();
    app.UseUsageBilling();

    app.MapGet("/", () => TypedResults.Text("MeteredApi: see README.md for a curl walkthrough."))
        .WithName("getIndex").WithSummary("Says what this app is.").Produces<string>(StatusCodes.Status200OK, "text/plain").AllowAnonymous();

    // Metered endpoints: every call needs an API key, counts against its limits and is charged.
    app.MapGet("/v1/quote", (string? symbol) => TypedResults.Ok(new Quote(symbol ?? "ACME", 123.45m, DateTimeOffset.UtcNow)))
        .WithName("getQuote").WithSummary("A stock quote; charged Sample:QuotePrice per call.")
        .RequireApiKey()
        .WithCost(quotePrice);

    app.MapGet("/v1/reports/{id}", Results<Ok<Report>, ProblemHttpResult> (string id) => id.Length > 64
            ? TypedResults.Problem(statusCode: 400, title: "Invalid report id", detail: "Report ids are at most 64 characters.")
            : TypedResults.Ok(new Report(id, 42, "ready")))
        .WithName("getReport").WithSummary("A report by id; charged the 'report' price per call.")
        .RequireApiKey()
        .WithPrice("report");

    // The caller's own balance, usage, limits and ledger, authenticated by its API key.
    app.MapUsageBillingSelfService("/v1/billing");

    // The OpenAPI description of every endpoint above, admin and self-service included: GET /openapi/v1.json.
    app.MapOpenApi();

    // Admin API, protected here by a shared token header; a real app would use its own authorization policy.
    app.MapUsageBillingAdmin("/admin/billing")
        .RequireAdminToken(_ => adminToken);

    // 200 when billing works, 503 when a billing store does not answer.
    app.MapHealthChecks("/health");
    app.MapHealthChecks("/healthz");
    return app;
});

/// <summary>A stock quote.</summary>
internal sealed record Quote(string Symbol, decimal Price, DateTimeOffset At);

/// <summary>A report's status.</summary>
internal sealed record Report(string Id, int Rows, string Status);

/// <summary>The sample's entry point, public so that tests can host it.</summary>
public partial class Program;
