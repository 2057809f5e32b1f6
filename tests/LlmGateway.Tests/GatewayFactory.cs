using System.Text.Json;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using UsageBilling.Tests.Shared;

namespace LlmGateway.Tests;

/// <summary>Hosts the gateway on a real Kestrel loopback port, so client disconnects behave as in production.</summary>
public sealed class GatewayFactory : WebApplicationFactory<Program>
{
    public const string AdminToken = "dev-admin-token";

    private readonly Action<IServiceCollection>? _configureServices;

    public GatewayFactory(IDictionary<string, string?>? settings = null, Action<IServiceCollection>? configureServices = null)
    {
        _configureServices = configureServices;
        foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
        {
            Settings[key] = value;
        }

        UseKestrel(0);
        StartServer();
    }

    private Dictionary<string, string?> Settings { get; } = new()
    {
        ["Gateway:Simulator:ChunkDelayMs"] = "1",
    };

    public Uri BaseAddress => new(ClientOptions.BaseAddress, "/");

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseEnvironment("Development");
        builder.UseSetting("Billing:Store", "InMemory");
        builder.ConfigureAppConfiguration(config => config.AddInMemoryCollection(Settings));
        if (_configureServices is not null)
        {
            builder.ConfigureServices(_configureServices);
        }
    }

    public HttpClient CreateAdminClient()
    {
        var client = CreateClient();
        client.DefaultRequestHeaders.Add("X-Admin-Token", AdminToken);
        return client;
    }

    internal AdminApi Admin => new(CreateAdminClient);

    /// <summary>A client that calls with the API key <paramref name="key"/> as a bearer token.</summary>
    public HttpClient CreateKeyClient(string key)
    {
        var client = CreateClient();
        client.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", key);
        return client;
    }

    /// <summary>Options that point the official OpenAI client at this gateway's <c>/v1</c>, in process, without retries.</summary>
    public OpenAI.OpenAIClientOptions OpenAIOptions() => new()
    {
        Endpoint = new Uri(BaseAddress, "/v1"),
        Transport = new System.ClientModel.Primitives.HttpClientPipelineTransport(CreateClient()),
        RetryPolicy = new System.ClientModel.Primitives.ClientRetryPolicy(maxRetries: 0),
    };

    public async Task<(string AccountId, string Key)> CreateCustomerAsync(decimal credits, string? plan = null, object? limits = null)
    {
        var (accountId, key, _) = await Admin.CreateCustomerAsync(credits, limits, plan);
        return (accountId, key);
    }

    public Task GrantAsync(string accountId, decimal amount) => Admin.GrantAsync(accountId, amount);

    public Task<(decimal Balance, decimal Reserved)> GetBalanceAsync(string accountId) => Admin.GetBalanceAsync(accountId);

    public Task<decimal> GetLedgerSumAsync(string accountId) => Admin.GetLedgerSumAsync(accountId);

    public Task<JsonElement[]> WaitForUsageAsync(string accountId, int count) => Admin.WaitForUsageAsync(accountId, count);

    public Task<(decimal Balance, decimal Reserved)> WaitForSettledAsync(string accountId) => Admin.WaitForSettledAsync(accountId);

    public static Task<JsonElement> ReadJsonAsync(HttpResponseMessage response) => AdminApi.ReadJsonAsync(response);
}
