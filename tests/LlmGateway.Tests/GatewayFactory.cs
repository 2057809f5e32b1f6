using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.Configuration;

namespace LlmGateway.Tests;

/// <summary>Hosts the gateway on a real Kestrel loopback port, so client disconnects behave as in production.</summary>
public sealed class GatewayFactory : WebApplicationFactory<Program>
{
    public const string AdminToken = "dev-admin-token";

    public GatewayFactory(IDictionary<string, string?>? settings = null)
    {
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
    }

    public HttpClient CreateAdminClient()
    {
        var client = CreateClient();
        client.DefaultRequestHeaders.Add("X-Admin-Token", AdminToken);
        return client;
    }

    public async Task<(string AccountId, string Key)> CreateCustomerAsync(decimal credits, string? plan = null, object? limits = null)
    {
        using var admin = CreateAdminClient();
        var account = await ReadJsonAsync(await admin.PostAsJsonAsync("/admin/billing/accounts", new { name = "Acme", plan }));
        var accountId = account.GetProperty("id").GetString()!;
        if (credits > 0)
        {
            (await admin.PostAsJsonAsync($"/admin/billing/accounts/{accountId}/credits", new { amount = credits })).EnsureSuccessStatusCode();
        }

        var key = await ReadJsonAsync(await admin.PostAsJsonAsync($"/admin/billing/accounts/{accountId}/keys", new { name = "sdk", limits }));
        return (accountId, key.GetProperty("key").GetString()!);
    }

    public async Task GrantAsync(string accountId, decimal amount)
    {
        using var admin = CreateAdminClient();
        (await admin.PostAsJsonAsync($"/admin/billing/accounts/{accountId}/credits", new { amount })).EnsureSuccessStatusCode();
    }

    public async Task<(decimal Balance, decimal Reserved)> GetBalanceAsync(string accountId)
    {
        using var admin = CreateAdminClient();
        var account = await ReadJsonAsync(await admin.GetAsync($"/admin/billing/accounts/{accountId}"));
        return (account.GetProperty("balance").GetDecimal(), account.GetProperty("reserved").GetDecimal());
    }

    public async Task<decimal> GetLedgerSumAsync(string accountId)
    {
        using var admin = CreateAdminClient();
        var page = await ReadJsonAsync(await admin.GetAsync($"/admin/billing/accounts/{accountId}/ledger?limit=1000"));
        Assert.Equal(JsonValueKind.Null, page.GetProperty("nextCursor").ValueKind);
        return page.GetProperty("entries").EnumerateArray().Sum(e => e.GetProperty("amount").GetDecimal());
    }

    public async Task<JsonElement[]> WaitForUsageAsync(string accountId, int count)
    {
        using var admin = CreateAdminClient();
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (true)
        {
            var page = await ReadJsonAsync(await admin.GetAsync($"/admin/billing/usage?accountId={accountId}&limit=1000"));
            var records = page.GetProperty("records").EnumerateArray().ToArray();
            if (records.Length >= count || DateTime.UtcNow > deadline)
            {
                return records;
            }

            await Task.Delay(50);
        }
    }

    /// <summary>Waits until no credit is held on the account any more (a call settles after its client went away).</summary>
    public async Task<(decimal Balance, decimal Reserved)> WaitForSettledAsync(string accountId)
    {
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (true)
        {
            var balance = await GetBalanceAsync(accountId);
            if (balance.Reserved == 0 || DateTime.UtcNow > deadline)
            {
                return balance;
            }

            await Task.Delay(20);
        }
    }

    public static async Task<JsonElement> ReadJsonAsync(HttpResponseMessage response)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, $"{(int)response.StatusCode}: {body}");
        return JsonDocument.Parse(body).RootElement.Clone();
    }
}
