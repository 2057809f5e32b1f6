using System.Net.Http.Headers;
using System.Text;
using CsCheck;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace UsageBilling.Tests.Integration;

/// <summary>
/// Generated hostile bodies, query strings and route values sent to the admin, self-service and LiteLLM ingest
/// endpoints: never a 500, and a refused request (4xx) changes no balance.
/// </summary>
public sealed class HostileApiInputTests : IAsyncLifetime
{
    private const string IngestSecret = "litellm-callback-secret-0123456789abcdef";
    private WebApplication _app = null!;
    private string _account = null!;
    private string _key = null!;

    public async Task InitializeAsync()
    {
        var builder = WebApplication.CreateBuilder();
        builder.WebHost.UseTestServer();
        builder.Logging.ClearProviders();
        builder.Services.AddUsageBilling(o =>
        {
            o.Ingest.Secret = IngestSecret;
            o.Pricing.Models.Add(new ModelPriceOptions { Model = "gpt-4o", Input = 2.5m, Output = 10m });
        });
        _app = builder.Build();
        _app.UseAuthentication();
        _app.UseAuthorization();
        _app.MapUsageBillingAdmin();
        _app.MapUsageBillingSelfService();
        _app.MapLiteLlmUsageIngest();
        await _app.StartAsync();

        var account = await _app.Services.GetRequiredService<AccountManager>().CreateAsync("Target");
        await _app.Services.GetRequiredService<CreditManager>().PostAsync(account.Id, LedgerEntryKind.Grant, Money.FromUnits(1_000m));
        _app.Services.GetRequiredService<Microsoft.Extensions.Options.IOptionsMonitor<UsageBillingOptions>>().CurrentValue.Ingest.EndUserAccounts["target"] = account.Id;
        _account = account.Id;
        _key = (await _app.Services.GetRequiredService<ApiKeyManager>().CreateAsync(account.Id, "k")).Plaintext;
    }

    public async Task DisposeAsync() => await _app.DisposeAsync();

    [Fact]
    public async Task Generated_hostile_admin_self_service_and_ingest_requests_never_get_500_and_refusals_change_no_balance()
    {
        using var client = _app.GetTestClient();
        var credits = _app.Services.GetRequiredService<CreditManager>();
        var statuses = new Dictionary<int, int>();

        await Requests.SampleAsync(async request =>
        {
            var before = await credits.GetBalanceAsync(_account);
            using var message = new HttpRequestMessage(request.Method, request.Path.Replace("{account}", _account, StringComparison.Ordinal));
            if (request.Body is not null)
            {
                message.Content = new StringContent(request.Body, Encoding.UTF8, "application/json");
            }

            if (request.Path.StartsWith("/v1/billing", StringComparison.Ordinal))
            {
                message.Headers.Authorization = new AuthenticationHeaderValue("Bearer", _key);
            }
            else if (request.Path.StartsWith("/ingest", StringComparison.Ordinal))
            {
                message.Headers.Authorization = new AuthenticationHeaderValue("Bearer", IngestSecret);
            }

            using var response = await client.SendAsync(message);
            var status = (int)response.StatusCode;
            statuses[status] = statuses.GetValueOrDefault(status) + 1;
            Assert.True(status < 500, $"{status} for {request.Method} {request.Path} {request.Body}: {await response.Content.ReadAsStringAsync()}");
            var after = await credits.GetBalanceAsync(_account);
            Assert.Equal(Money.Zero, after.Reserved);
            if (status >= 400)
            {
                Assert.Equal(before, after);
            }
        }, iter: 2000, threads: 1, print: r => $"{r.Method} {r.Path} {r.Body}");

        Assert.True(statuses.Where(s => s.Key < 300).Sum(s => s.Value) > 50, string.Join(", ", statuses));
        Assert.True(statuses.Where(s => s.Key is >= 400 and < 500).Sum(s => s.Value) > 50, string.Join(", ", statuses));
    }

    private sealed record HostileRequest(HttpMethod Method, string Path, string? Body);

    private static readonly Gen<string> Text = Gen.OneOf(
            "a", "", " ", "\\u0000", "\\ud800", "\\udc00", "\\ud83d\\ude42", "x", "\\n", "\\\"", "東京", "grant", "adjustment", "refund", "charge", "gpt-4o", "target")
        .Array[0, 4].Select(parts => string.Concat(parts))
        .Select(Gen.Int[0, 25], (text, n) => n == 0 ? new string('a', 5000) + text : text);

    private static readonly Gen<string> Number = Gen.OneOf(
        "1", "0.5", "0", "-1", "-0.000000001", "0.0000000001", "9223372036854775807", "-9223372036854775808", "1e300", "1000000000", "1000000001",
        "999999999.999999999", "\"5\"", "null", "true", "[]", "{}", "NaN", "1.5e-7");

    private static readonly Gen<string> JsonValue = Gen.OneOf(Number, Text.Select(t => $"\"{t}\""));

    private static readonly Gen<string> QueryValue = Gen.OneOf(
        "2026-11-01", "2026-13-45", "0", "-5", "99999999999", "abc", "%00", "%ED%A0%80", "1.", ".x", "2026-11-01T00:00:00Z", "", "9999-12-31", "0001-01-01");

    private static readonly Gen<string> Query = Gen.Select(
        Gen.OneOf("from", "to", "limit", "cursor", "groupBy", "top", "accountId", "keyId").Array[0, 3], QueryValue.Array[3],
        (names, values) => names.Length == 0 ? "" : "?" + string.Join("&", names.Select((n, i) => $"{n}={values[i]}")));

    private static readonly Gen<string> Object = Gen.Select(
        Gen.OneOf("amount", "kind", "reason", "idempotencyKey", "name", "plan", "expiresAt", "daily", "weekly", "monthly", "requestsPerMinute",
            "requestsPerDay", "tokensPerMinute", "limits", "budget", "input", "output", "cachedInput", "apiKey").Array[0, 5], JsonValue.Array[5],
        (names, values) => "{" + string.Join(",", names.Select((n, i) => $"\"{n}\":{values[i]}")) + "}");

    private static readonly Gen<string> Body = Gen.OneOf(Object, Gen.OneOf("", "{", "null", "[]", "\"x\"", "[{}]", "1"));

    private static readonly Gen<string> IngestEntry = Gen.Select(Text, Number, Number, Gen.OneOf("\"target\"", "\"\"", "null", "1"), Gen.OneOf("\"success\"", "\"failure\"", "null"),
        (id, prompt, cost, user, status) =>
            $$"""{"id":"{{id}}","status":{{status}},"model":"gpt-4o","prompt_tokens":{{prompt}},"completion_tokens":{{prompt}},"response_cost":{{cost}},"startTime":1795251600.0,"endTime":{{cost}},"end_user":{{user}}}""");

    private static readonly Gen<HostileRequest> Requests = Gen.OneOf(
        Body.Select(b => new HostileRequest(HttpMethod.Post, "/admin/billing/accounts/{account}/credits", b)),
        Body.Select(b => new HostileRequest(HttpMethod.Post, "/admin/billing/accounts", b)),
        Body.Select(b => new HostileRequest(HttpMethod.Post, "/admin/billing/accounts/{account}/keys", b)),
        Body.Select(b => new HostileRequest(HttpMethod.Put, "/admin/billing/accounts/{account}/budget", b)),
        Gen.Select(Text, Body, (model, b) => new HostileRequest(HttpMethod.Put, "/admin/billing/pricing/models/" + Uri.EscapeDataString(model), b)),
        Gen.Select(Text, Body, (provider, b) => new HostileRequest(HttpMethod.Put, "/admin/billing/accounts/{account}/provider-keys/" + Uri.EscapeDataString(provider), b)),
        Gen.Select(Text, Body, (id, b) => new HostileRequest(HttpMethod.Patch, "/admin/billing/keys/" + Uri.EscapeDataString(id), b)),
        Gen.Select(Gen.OneOf("/admin/billing/usage", "/admin/billing/accounts/{account}/ledger", "/admin/billing/analytics/summary", "/admin/billing/analytics/daily",
            "/admin/billing/analytics/by-model", "/admin/billing/analytics/top-accounts", "/admin/billing/analytics/quotas", "/v1/billing/usage", "/v1/billing/ledger",
            "/v1/billing/balance", "/v1/billing/limits"), Query, (path, query) => new HostileRequest(HttpMethod.Get, path + query, null)),
        Gen.OneOf(IngestEntry.Array[0, 3].Select(e => "[" + string.Join(",", e) + "]"), IngestEntry, Body)
            .Select(b => new HostileRequest(HttpMethod.Post, "/ingest/litellm", b)));
}
