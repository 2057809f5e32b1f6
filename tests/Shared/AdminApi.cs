using System.Net.Http.Json;
using System.Text.Json;
using Xunit;

namespace UsageBilling.Tests.Shared;

/// <summary>Drives a sample's admin API (<c>/admin/billing</c>) as an operator would; shared by the sample test projects.</summary>
internal sealed class AdminApi(Func<HttpClient> createAdminClient)
{
    /// <summary>Creates an account with <paramref name="credits"/> and a key; returns (account id, key plaintext, key id).</summary>
    public async Task<(string AccountId, string Key, string KeyId)> CreateCustomerAsync(decimal credits, object? limits = null, string? plan = null, DateTimeOffset? expiresAt = null)
    {
        using var admin = createAdminClient();
        var account = await ReadJsonAsync(await admin.PostAsJsonAsync("/admin/billing/accounts", new { name = "Acme", plan }));
        var accountId = account.GetProperty("id").GetString()!;
        if (credits != 0)
        {
            await GrantAsync(accountId, credits);
        }

        var key = await ReadJsonAsync(await admin.PostAsJsonAsync($"/admin/billing/accounts/{accountId}/keys", new { name = "test", limits, expiresAt }));
        return (accountId, key.GetProperty("key").GetString()!, key.GetProperty("id").GetString()!);
    }

    public async Task GrantAsync(string accountId, decimal amount)
    {
        using var admin = createAdminClient();
        await ReadJsonAsync(await admin.PostAsJsonAsync($"/admin/billing/accounts/{accountId}/credits", new { amount, reason = "test" }));
    }

    public async Task<(decimal Balance, decimal Reserved)> GetBalanceAsync(string accountId)
    {
        using var admin = createAdminClient();
        var account = await ReadJsonAsync(await admin.GetAsync($"/admin/billing/accounts/{accountId}"));
        return (account.GetProperty("balance").GetDecimal(), account.GetProperty("reserved").GetDecimal());
    }

    public async Task<decimal> GetLedgerSumAsync(string accountId)
    {
        using var admin = createAdminClient();
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
        using var admin = createAdminClient();
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
