using System.Net.Http.Headers;
using System.Text.Json;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using UsageBilling.Tests.Shared;

namespace UsageBilling.Tests.Integration;

/// <summary>Hosts the MeteredApi sample in memory with a fake clock, and drives its admin API like an operator would.</summary>
public sealed class MeteredApiFactory : WebApplicationFactory<Program>
{
    public const string AdminToken = "dev-admin-token";

    public FakeTimeProvider Time { get; } = new(new DateTimeOffset(2026, 11, 15, 10, 0, 0, TimeSpan.Zero));

    public Action<IServiceCollection>? ConfigureTestServices { get; init; }

    /// <summary>The sample's <c>Billing:Store</c>; the tests use the in-memory stores unless they ask for another.</summary>
    public string Store { get; init; } = "InMemory";

    /// <summary>The sample's <c>ConnectionStrings:Billing</c>, if any.</summary>
    public string? ConnectionString { get; init; }

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseEnvironment("Development");
        builder.UseSetting("Billing:Store", Store);
        if (ConnectionString is not null)
        {
            builder.UseSetting("ConnectionStrings:Billing", ConnectionString);
        }

        builder.ConfigureServices(services =>
        {
            services.AddSingleton<TimeProvider>(Time);
            ConfigureTestServices?.Invoke(services);
        });
    }

    public HttpClient CreateAdminClient()
    {
        var client = CreateClient();
        client.DefaultRequestHeaders.Add("X-Admin-Token", AdminToken);
        return client;
    }

    public HttpClient CreateKeyClient(string key)
    {
        var client = CreateClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        return client;
    }

    /// <summary>The sample's admin API.</summary>
    internal AdminApi Admin => new(CreateAdminClient);

    /// <inheritdoc cref="AdminApi.CreateCustomerAsync"/>
    public Task<(string AccountId, string Key, string KeyId)> CreateCustomerAsync(decimal credits, object? limits = null, string? plan = null, DateTimeOffset? expiresAt = null)
        => Admin.CreateCustomerAsync(credits, limits, plan, expiresAt);

    public Task<(decimal Balance, decimal Reserved)> GetBalanceAsync(string accountId) => Admin.GetBalanceAsync(accountId);

    public Task<decimal> GetLedgerSumAsync(string accountId) => Admin.GetLedgerSumAsync(accountId);

    public Task<JsonElement[]> WaitForUsageAsync(string accountId, int count) => Admin.WaitForUsageAsync(accountId, count);

    public static Task<JsonElement> ReadJsonAsync(HttpResponseMessage response) => AdminApi.ReadJsonAsync(response);

    public static Task<JsonElement> ReadProblemAsync(HttpResponseMessage response, int status, string type) => AdminApi.ReadProblemAsync(response, status, type);
}
