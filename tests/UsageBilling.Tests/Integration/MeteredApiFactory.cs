using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

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

    /// <summary>Creates an account with <paramref name="credits"/> and a key; returns (account id, key plaintext, key id).</summary>
    public async Task<(string AccountId, string Key, string KeyId)> CreateCustomerAsync(decimal credits, object? limits = null, string? plan = null, DateTimeOffset? expiresAt = null)
    {
        using var admin = CreateAdminClient();
        var account = await ReadJsonAsync(await admin.PostAsJsonAsync("/admin/billing/accounts", new { name = "Acme", plan }));
        var accountId = account.GetProperty("id").GetString()!;
        if (credits != 0)
        {
            var grant = await admin.PostAsJsonAsync($"/admin/billing/accounts/{accountId}/credits", new { amount = credits, reason = "test" });
            grant.EnsureSuccessStatusCode();
        }

        var key = await ReadJsonAsync(await admin.PostAsJsonAsync($"/admin/billing/accounts/{accountId}/keys", new { name = "test", limits, expiresAt }));
        return (accountId, key.GetProperty("key").GetString()!, key.GetProperty("id").GetString()!);
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
        var sum = 0m;
        string? cursor = null;
        do
        {
            var page = await ReadJsonAsync(await admin.GetAsync($"/admin/billing/accounts/{accountId}/ledger?limit=500&cursor={cursor}"));
            sum += page.GetProperty("entries").EnumerateArray().Sum(e => e.GetProperty("amount").GetDecimal());
            cursor = page.GetProperty("nextCursor").GetString();
        }
        while (cursor is not null);
        return sum;
    }

    /// <summary>Waits until the usage log holds <paramref name="count"/> records for the account (the log is written asynchronously).</summary>
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

    public static async Task<JsonElement> ReadJsonAsync(HttpResponseMessage response)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, $"{(int)response.StatusCode} {response.RequestMessage?.RequestUri}: {body}");
        return JsonDocument.Parse(body).RootElement.Clone();
    }

    public static async Task<JsonElement> ReadProblemAsync(HttpResponseMessage response, int status, string type)
    {
        Assert.Equal(status, (int)response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone();
        Assert.Equal(type, problem.GetProperty("type").GetString());
        Assert.Equal(status, problem.GetProperty("status").GetInt32());
        return problem;
    }
}
