using System.Net;
using System.Net.Http.Json;
using System.Text;

namespace UsageBilling.Tests.Integration;

public sealed class AdminEndpointTests : IDisposable
{
    private readonly MeteredApiFactory _factory = new();

    public void Dispose() => _factory.Dispose();

    [Fact]
    public async Task The_admin_api_needs_the_admin_token()
    {
        using var anonymous = _factory.CreateClient();
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.PostAsJsonAsync("/admin/billing/accounts", new { name = "x" })).StatusCode);
        anonymous.DefaultRequestHeaders.Add("X-Admin-Token", "wrong");
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync("/admin/billing/usage")).StatusCode);
    }

    [Fact]
    public async Task An_account_is_created_on_the_default_plan_and_read_back_with_its_balance()
    {
        using var admin = _factory.CreateAdminClient();
        var created = await admin.PostAsJsonAsync("/admin/billing/accounts", new { name = "Acme" });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var account = await MeteredApiFactory.ReadJsonAsync(created);
        var id = account.GetProperty("id").GetString()!;
        Assert.StartsWith("acct_", id, StringComparison.Ordinal);
        Assert.Equal("free", account.GetProperty("plan").GetString());
        Assert.EndsWith($"/admin/billing/accounts/{id}", created.Headers.Location!.ToString(), StringComparison.Ordinal);

        var read = await MeteredApiFactory.ReadJsonAsync(await admin.GetAsync($"/admin/billing/accounts/{id}"));
        Assert.Equal("Acme", read.GetProperty("name").GetString());
        Assert.Equal(0m, read.GetProperty("balance").GetDecimal());
        Assert.Equal(0m, read.GetProperty("reserved").GetDecimal());
    }

    [Fact]
    public async Task Credits_posted_with_an_idempotency_key_are_granted_once()
    {
        var (accountId, _, _) = await _factory.CreateCustomerAsync(credits: 0m);
        using var admin = _factory.CreateAdminClient();

        var first = await admin.PostAsJsonAsync($"/admin/billing/accounts/{accountId}/credits", new { amount = 25.123456789m, reason = "invoice 7", idempotencyKey = "inv-7" });
        var second = await admin.PostAsJsonAsync($"/admin/billing/accounts/{accountId}/credits", new { amount = 25.123456789m, reason = "invoice 7", idempotencyKey = "inv-7" });

        Assert.Equal(HttpStatusCode.Created, first.StatusCode);
        Assert.Equal(HttpStatusCode.OK, second.StatusCode);
        var entry = await MeteredApiFactory.ReadJsonAsync(first);
        Assert.Equal("grant", entry.GetProperty("kind").GetString());
        Assert.Equal(25.123456789m, entry.GetProperty("amount").GetDecimal());
        Assert.Equal(entry.GetProperty("id").GetString(), (await MeteredApiFactory.ReadJsonAsync(second)).GetProperty("id").GetString());
        Assert.Equal((25.123456789m, 0m), await _factory.GetBalanceAsync(accountId));
    }

    [Fact]
    public async Task A_negative_adjustment_cannot_overdraw_the_account()
    {
        var (accountId, _, _) = await _factory.CreateCustomerAsync(credits: 1m);
        using var admin = _factory.CreateAdminClient();

        var refused = await admin.PostAsJsonAsync($"/admin/billing/accounts/{accountId}/credits", new { amount = -2m, kind = "adjustment" });
        await MeteredApiFactory.ReadProblemAsync(refused, 409, ProblemTypes.InsufficientCredits);
        var allowed = await admin.PostAsJsonAsync($"/admin/billing/accounts/{accountId}/credits", new { amount = -0.4m, kind = "adjustment" });
        Assert.Equal(HttpStatusCode.Created, allowed.StatusCode);
        Assert.Equal((0.6m, 0m), await _factory.GetBalanceAsync(accountId));
    }

    [Theory]
    [InlineData("InMemory")]
    [InlineData("Sqlite")]
    public async Task Grants_that_would_overflow_the_balance_are_refused_and_leave_it_unchanged(string store)
    {
        var database = Path.Combine(Path.GetTempPath(), $"usagebilling-overflow-{Guid.NewGuid():N}.db");
        try
        {
            await using var factory = new MeteredApiFactory { Store = store, ConnectionString = $"Data Source={database}" };
            var (accountId, _, _) = await factory.CreateCustomerAsync(credits: 0m);
            using var admin = factory.CreateAdminClient();
            var credits = $"/admin/billing/accounts/{accountId}/credits";

            // The reproduction: 9e9, 9e9, then 1. A single amount past the maximum is a bad request.
            var tooLarge = await MeteredApiFactory.ReadProblemAsync(await admin.PostAsJsonAsync(credits, new { amount = 9_000_000_000m }), 400, ProblemTypes.ValidationFailed);
            Assert.Contains("1000000000", tooLarge.GetRawText(), StringComparison.Ordinal);

            Assert.Equal(HttpStatusCode.Created, (await admin.PostAsJsonAsync(credits, new { amount = 900_000_000m })).StatusCode);
            Assert.Equal(HttpStatusCode.Created, (await admin.PostAsJsonAsync(credits, new { amount = 100_000_000m })).StatusCode);
            await MeteredApiFactory.ReadProblemAsync(await admin.PostAsJsonAsync(credits, new { amount = 1m }), 409, ProblemTypes.BalanceLimitExceeded);
            await MeteredApiFactory.ReadProblemAsync(await admin.PostAsJsonAsync(credits, new { amount = 900_000_000m, kind = "refund" }), 409, ProblemTypes.BalanceLimitExceeded);

            Assert.Equal((1_000_000_000m, 0m), await factory.GetBalanceAsync(accountId));
            Assert.Equal(1_000_000_000m, await factory.GetLedgerSumAsync(accountId));
        }
        finally
        {
            foreach (var file in new[] { database, database + "-wal", database + "-shm" })
            {
                File.Delete(file);
            }
        }
    }

    [Fact]
    public async Task The_ledger_pages_newest_first()
    {
        var (accountId, _, _) = await _factory.CreateCustomerAsync(credits: 1m);
        using var admin = _factory.CreateAdminClient();
        await admin.PostAsJsonAsync($"/admin/billing/accounts/{accountId}/credits", new { amount = 2m });
        await admin.PostAsJsonAsync($"/admin/billing/accounts/{accountId}/credits", new { amount = 3m, kind = "refund" });

        var page1 = await MeteredApiFactory.ReadJsonAsync(await admin.GetAsync($"/admin/billing/accounts/{accountId}/ledger?limit=2"));
        Assert.Equal([3m, 2m], page1.GetProperty("entries").EnumerateArray().Select(e => e.GetProperty("amount").GetDecimal()));
        var cursor = page1.GetProperty("nextCursor").GetString();
        var page2 = await MeteredApiFactory.ReadJsonAsync(await admin.GetAsync($"/admin/billing/accounts/{accountId}/ledger?limit=2&cursor={cursor}"));
        Assert.Equal([1m], page2.GetProperty("entries").EnumerateArray().Select(e => e.GetProperty("amount").GetDecimal()));
        Assert.Equal(System.Text.Json.JsonValueKind.Null, page2.GetProperty("nextCursor").ValueKind);
    }

    [Theory]
    [InlineData("/admin/billing/accounts", "{")]
    [InlineData("/admin/billing/accounts", "{\"name\": 42}")]
    [InlineData("/admin/billing/accounts", "{}")]
    [InlineData("/admin/billing/accounts", "[]")]
    [InlineData("/admin/billing/accounts", "null")]
    public async Task Bad_json_is_a_400_problem_and_creates_nothing(string path, string body)
    {
        using var admin = _factory.CreateAdminClient();
        using var content = new StringContent(body, Encoding.UTF8, "application/json");
        var response = await admin.PostAsync(path, content);
        var problem = await MeteredApiFactory.ReadProblemAsync(response, 400, ProblemTypes.ValidationFailed);
        Assert.True(problem.TryGetProperty("errors", out _));
    }

    [Theory]
    [InlineData("{\"amount\": 0}")]
    [InlineData("{\"amount\": -1}")]
    [InlineData("{\"amount\": 1, \"kind\": \"gift\"}")]
    [InlineData("{\"amount\": 0.0000000001}")]
    [InlineData("{\"amount\": \"10\"}")]
    [InlineData("{}")]
    public async Task Invalid_credit_posts_are_400_and_change_nothing(string body)
    {
        var (accountId, _, _) = await _factory.CreateCustomerAsync(credits: 1m);
        using var admin = _factory.CreateAdminClient();
        using var content = new StringContent(body, Encoding.UTF8, "application/json");

        var response = await admin.PostAsync($"/admin/billing/accounts/{accountId}/credits", content);
        await MeteredApiFactory.ReadProblemAsync(response, 400, ProblemTypes.ValidationFailed);
        Assert.Equal((1m, 0m), await _factory.GetBalanceAsync(accountId));
    }

    [Fact]
    public async Task Invalid_key_requests_are_400()
    {
        var (accountId, _, _) = await _factory.CreateCustomerAsync(credits: 0m);
        using var admin = _factory.CreateAdminClient();

        await MeteredApiFactory.ReadProblemAsync(await admin.PostAsJsonAsync($"/admin/billing/accounts/{accountId}/keys", new { name = "" }), 400, ProblemTypes.ValidationFailed);
        await MeteredApiFactory.ReadProblemAsync(await admin.PostAsJsonAsync($"/admin/billing/accounts/{accountId}/keys",
            new { name = "k", expiresAt = _factory.Time.GetUtcNow().AddMinutes(-1) }), 400, ProblemTypes.ValidationFailed);
        await MeteredApiFactory.ReadProblemAsync(await admin.PostAsJsonAsync($"/admin/billing/accounts/{accountId}/keys",
            new { name = "k", limits = new { requestsPerMinute = 0 } }), 400, ProblemTypes.ValidationFailed);
    }

    [Fact]
    public async Task Patching_a_key_changes_only_the_properties_sent()
    {
        var (_, _, keyId) = await _factory.CreateCustomerAsync(credits: 0m, limits: new { requestsPerMinute = 10 });
        using var admin = _factory.CreateAdminClient();

        var budgeted = await MeteredApiFactory.ReadJsonAsync(await admin.PatchAsJsonAsync($"/admin/billing/keys/{keyId}", new { budget = new { daily = 2m } }));
        Assert.Equal(10, budgeted.GetProperty("limits").GetProperty("requestsPerMinute").GetInt64());
        Assert.Equal(2m, budgeted.GetProperty("budget").GetProperty("daily").GetDecimal());

        using var clear = new StringContent("{\"limits\": null}", Encoding.UTF8, "application/json");
        var cleared = await MeteredApiFactory.ReadJsonAsync(await admin.PatchAsync($"/admin/billing/keys/{keyId}", clear));
        Assert.Equal(System.Text.Json.JsonValueKind.Null, cleared.GetProperty("limits").ValueKind);
        Assert.Equal(2m, cleared.GetProperty("budget").GetProperty("daily").GetDecimal());

        using var wrong = new StringContent("{\"budget\": {\"daily\": \"lots\"}}", Encoding.UTF8, "application/json");
        await MeteredApiFactory.ReadProblemAsync(await admin.PatchAsync($"/admin/billing/keys/{keyId}", wrong), 400, ProblemTypes.ValidationFailed);
        await MeteredApiFactory.ReadProblemAsync(await admin.PatchAsJsonAsync("/admin/billing/keys/key_nope", new { budget = (object?)null }), 404, ProblemTypes.NotFound);
    }

    [Fact]
    public async Task Unknown_ids_are_404()
    {
        using var admin = _factory.CreateAdminClient();
        await MeteredApiFactory.ReadProblemAsync(await admin.GetAsync("/admin/billing/accounts/acct_nope"), 404, ProblemTypes.NotFound);
        await MeteredApiFactory.ReadProblemAsync(await admin.PostAsJsonAsync("/admin/billing/accounts/acct_nope/credits", new { amount = 1m }), 404, ProblemTypes.NotFound);
        await MeteredApiFactory.ReadProblemAsync(await admin.GetAsync("/admin/billing/accounts/acct_nope/ledger"), 404, ProblemTypes.NotFound);
        await MeteredApiFactory.ReadProblemAsync(await admin.PostAsJsonAsync("/admin/billing/accounts/acct_nope/keys", new { name = "k" }), 404, ProblemTypes.NotFound);
        await MeteredApiFactory.ReadProblemAsync(await admin.GetAsync("/admin/billing/accounts/acct_nope/keys"), 404, ProblemTypes.NotFound);
        await MeteredApiFactory.ReadProblemAsync(await admin.DeleteAsync("/admin/billing/keys/key_nope"), 404, ProblemTypes.NotFound);
    }

    [Theory]
    [InlineData("from=yesterday")]
    [InlineData("to=13/45/2026")]
    [InlineData("from=2026-11-02T00:00:00Z&to=2026-11-01T00:00:00Z")]
    [InlineData("limit=0")]
    [InlineData("limit=abc")]
    [InlineData("cursor=garbage")]
    public async Task Invalid_usage_queries_are_400(string query)
    {
        using var admin = _factory.CreateAdminClient();
        await MeteredApiFactory.ReadProblemAsync(await admin.GetAsync($"/admin/billing/usage?{query}"), 400, ProblemTypes.ValidationFailed);
    }
}
