using System.Net;
using System.Net.Http.Headers;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace UsageBilling.EntityFrameworkCore.Tests;

/// <summary>A minimal app with one metered endpoint (<c>GET /x</c>, API key, cost 1), on TestServer.</summary>
internal static class MeteredTestHost
{
    /// <summary>The plan whose keys may make 4 requests per minute.</summary>
    public const string LimitedPlan = "metered";

    public const int RequestsPerMinute = 4;

    /// <param name="clock">The app's clock.</param>
    /// <param name="backend">Registers the stores.</param>
    /// <param name="map">Maps more endpoints (for example the admin API).</param>
    public static async Task<WebApplication> StartAsync(TimeProvider clock, Action<UsageBillingBuilder> backend, Action<WebApplication>? map = null)
    {
        var builder = WebApplication.CreateBuilder();
        builder.WebHost.UseTestServer();
        builder.Logging.ClearProviders();
        builder.Services.AddSingleton(clock);
        backend(builder.Services.AddUsageBilling(o => o.Plans.Limits[LimitedPlan] = new RequestLimits { RequestsPerMinute = RequestsPerMinute }));

        var app = builder.Build();
        app.UseAuthentication();
        app.UseAuthorization();
        app.UseUsageBilling();
        app.MapGet("/x", () => "ok").RequireApiKey().WithCost(1m);
        map?.Invoke(app);
        await app.StartAsync();
        return app;
    }

    /// <summary>An account granted <paramref name="credits"/>, and a client that calls with a key of it.</summary>
    public static async Task<(string AccountId, HttpClient Client)> CustomerAsync(WebApplication app, decimal credits)
    {
        var account = await app.Services.GetRequiredService<AccountManager>().CreateAsync("Acme");
        await app.Services.GetRequiredService<CreditManager>().PostAsync(account.Id, LedgerEntryKind.Grant, Money.FromUnits(credits), "seed");
        var key = await app.Services.GetRequiredService<ApiKeyManager>().CreateAsync(account.Id, "k");
        var client = app.GetTestClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key.Plaintext);
        return (account.Id, client);
    }

    /// <summary>Calls <c>GET /x</c> with the key; the status and <c>X-RateLimit-Remaining</c>.</summary>
    public static async Task<(HttpStatusCode Status, string? Remaining)> CallAsync(WebApplication app, string key)
    {
        using var client = app.GetTestClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, "/x");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        using var response = await client.SendAsync(request);
        var remaining = response.Headers.TryGetValues("X-RateLimit-Remaining", out var values) ? values.Single() : null;
        return (response.StatusCode, remaining);
    }
}
