using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using UsageBilling;

namespace LlmGateway.Tests;

/// <summary>An account's own provider key: used for its calls, charged only the platform fee, never shown or logged.</summary>
public sealed class BringYourOwnKeyTests : IAsyncLifetime
{
    private const string Sentinel = "sk-SENTINELbyok0123456789abcdefXYZ";
    private const string PlatformKey = "sk-platform-0123456789abcdefghij";
    private readonly ConcurrentQueue<string> _upstreamKeys = new();
    private readonly ConcurrentQueue<string> _logs = new();
    private WebApplication _upstream = null!;
    private GatewayFactory _gateway = null!;

    public async Task InitializeAsync()
    {
        // A stand-in OpenAI-compatible upstream on 127.0.0.1 that records which key it was called with.
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        _upstream = builder.Build();
        _upstream.MapPost("/v1/chat/completions", (HttpContext context) =>
        {
            _upstreamKeys.Enqueue(context.Request.Headers.Authorization.ToString());
            return Results.Json(new
            {
                id = "chatcmpl-up", @object = "chat.completion", model = "gpt-4o-mini",
                choices = new[] { new { index = 0, message = new { role = "assistant", content = "hello" }, finish_reason = "stop" } },
                usage = new { prompt_tokens = 1000, completion_tokens = 1000, total_tokens = 2000 },
            });
        });
        await _upstream.StartAsync();
        var address = _upstream.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();

        _gateway = new GatewayFactory(
            new Dictionary<string, string?>
            {
                ["Gateway:Upstream:BaseUrl"] = address + "/v1",
                ["Gateway:Upstream:ApiKey"] = PlatformKey,
                ["Logging:LogLevel:Default"] = "Trace",
            },
            services => services.AddSingleton<ILoggerProvider>(new CollectingLoggerProvider(_logs)));
    }

    public async Task DisposeAsync()
    {
        _gateway.Dispose();
        await _upstream.DisposeAsync();
    }

    [Fact]
    public async Task A_call_uses_the_accounts_own_key_and_is_charged_only_the_platform_fee()
    {
        var (accountId, key) = await _gateway.CreateCustomerAsync(credits: 1m);
        using var client = KeyClient(key);

        var stored = await GatewayFactory.ReadJsonAsync(await client.PutAsJsonAsync("/v1/billing/provider-keys/openai", new { key = Sentinel }));
        Assert.Equal("sk-…fXYZ", stored.GetProperty("masked").GetString());
        Assert.True(stored.GetProperty("enabled").GetBoolean());

        Assert.Equal(HttpStatusCode.OK, (await Chat(client)).StatusCode);
        Assert.Equal($"Bearer {Sentinel}", _upstreamKeys.Last());
        // gateway config: Llm:OwnProviderKeyFee = 0.0001 instead of 1,000 + 1,000 tokens of gpt-4o-mini.
        Assert.Equal((0.9999m, 0m), await _gateway.GetBalanceAsync(accountId));

        // Disabled: the platform's key is used and token prices apply again.
        await GatewayFactory.ReadJsonAsync(await client.PatchAsJsonAsync("/v1/billing/provider-keys/openai", new { enabled = false }));
        Assert.Equal(HttpStatusCode.OK, (await Chat(client)).StatusCode);
        Assert.Equal($"Bearer {PlatformKey}", _upstreamKeys.Last());
        Assert.Equal((0.9999m - (1000 * 0.15m + 1000 * 0.6m) / 1_000_000m, 0m), await _gateway.GetBalanceAsync(accountId));

        Assert.Equal(HttpStatusCode.NoContent, (await client.DeleteAsync("/v1/billing/provider-keys/openai")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await client.DeleteAsync("/v1/billing/provider-keys/openai")).StatusCode);
    }

    [Fact]
    public async Task The_key_is_encrypted_at_rest_shown_only_masked_and_never_logged()
    {
        var (accountId, key) = await _gateway.CreateCustomerAsync(credits: 1m);
        using var client = KeyClient(key);
        await GatewayFactory.ReadJsonAsync(await client.PutAsJsonAsync("/v1/billing/provider-keys/openai", new { key = Sentinel }));
        await Chat(client);

        var store = _gateway.Services.GetRequiredService<IProviderKeyStore>();
        var atRest = (await store.FindAsync(accountId, "openai"))!;
        Assert.DoesNotContain("SENTINEL", atRest.ProtectedKey, StringComparison.Ordinal);
        Assert.DoesNotContain("SENTINEL", atRest.Masked, StringComparison.Ordinal);

        using var admin = _gateway.CreateAdminClient();
        var adminList = await admin.GetStringAsync($"/admin/billing/accounts/{accountId}/provider-keys");
        var selfList = await client.GetStringAsync("/v1/billing/provider-keys");
        Assert.Contains("sk-…fXYZ", adminList, StringComparison.Ordinal);
        Assert.DoesNotContain("SENTINEL", adminList, StringComparison.Ordinal);
        Assert.DoesNotContain("SENTINEL", selfList, StringComparison.Ordinal);
        Assert.DoesNotContain(atRest.ProtectedKey, adminList, StringComparison.Ordinal);

        // A key of the wrong format is refused without echoing it.
        var refused = await client.PutAsJsonAsync("/v1/billing/provider-keys/anthropic", new { key = Sentinel });
        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        Assert.DoesNotContain("SENTINEL", await refused.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        Assert.NotEmpty(_logs);
        Assert.DoesNotContain(_logs, line => line.Contains("SENTINEL", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Admins_manage_any_accounts_keys_and_one_account_cannot_see_anothers()
    {
        var (first, firstKey) = await _gateway.CreateCustomerAsync(credits: 1m);
        var (_, secondKey) = await _gateway.CreateCustomerAsync(credits: 1m);
        using var admin = _gateway.CreateAdminClient();
        var set = await admin.PutAsJsonAsync($"/admin/billing/accounts/{first}/provider-keys/groq", new { key = "gsk_0123456789abcdefghijkl" });
        Assert.Equal(HttpStatusCode.OK, set.StatusCode);

        using var owner = KeyClient(firstKey);
        using var other = KeyClient(secondKey);
        Assert.Contains("groq", await owner.GetStringAsync("/v1/billing/provider-keys"), StringComparison.Ordinal);
        Assert.Equal("[]", await other.GetStringAsync("/v1/billing/provider-keys"));
        Assert.Equal(HttpStatusCode.NotFound, (await admin.GetAsync("/admin/billing/accounts/acct_nope/provider-keys")).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await admin.PutAsJsonAsync($"/admin/billing/accounts/{first}/provider-keys/groq", new { key = "sk-not-a-groq-key-0123456789" })).StatusCode);
    }

    private static Task<HttpResponseMessage> Chat(HttpClient client)
        => client.PostAsJsonAsync("/v1/chat/completions", new { model = "gpt-4o-mini", max_tokens = 2000, messages = new[] { new { role = "user", content = "hi" } } });

    private HttpClient KeyClient(string key) => _gateway.CreateKeyClient(key);

    private sealed class CollectingLoggerProvider(ConcurrentQueue<string> lines) : ILoggerProvider
    {
        public ILogger CreateLogger(string categoryName) => new Collector(categoryName, lines);

        public void Dispose()
        {
        }

        private sealed class Collector(string category, ConcurrentQueue<string> lines) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

            public bool IsEnabled(LogLevel logLevel) => true;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
                => lines.Enqueue($"{category}: {formatter(state, exception)} {exception}");
        }
    }
}
