using BenchmarkDotNet.Attributes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using UsageBilling;

namespace UsageBilling.Benchmarks;

/// <summary>
/// What metering adds to a request, in process (test server, in-memory stores): the baseline is the same endpoint
/// behind API-key authentication only; the others add a flat price (reserve + settle + usage record), and request limits.
/// </summary>
[MemoryDiagnoser]
public class MeteringOverheadBenchmarks
{
    private WebApplication _app = null!;
    private HttpClient _client = null!;

    [GlobalSetup]
    public async Task SetupAsync()
    {
        var builder = WebApplication.CreateBuilder();
        builder.WebHost.UseTestServer();
        builder.Logging.ClearProviders();
        builder.Services.AddUsageBilling(o =>
        {
            o.Keys.Prefix = "sk-bench-";
            o.Plans.Limits["limited"] = new RequestLimits { RequestsPerSecond = long.MaxValue / 2, RequestsPerMinute = long.MaxValue / 2, MonthlyRequests = long.MaxValue / 2 };
        });
        _app = builder.Build();
        _app.UseAuthentication();
        _app.UseAuthorization();
        _app.UseUsageBilling();
        _app.MapGet("/authenticated", () => "ok").RequireApiKey();
        _app.MapGet("/metered", () => "ok").RequireApiKey().WithCost(0.000001m);
        await _app.StartAsync();

        var account = await _app.Services.GetRequiredService<AccountManager>().CreateAsync("bench", "limited");
        await _app.Services.GetRequiredService<CreditManager>().PostAsync(account.Id, LedgerEntryKind.Grant, Money.FromUnits(9_000_000m));
        var key = await _app.Services.GetRequiredService<ApiKeyManager>().CreateAsync(account.Id, "bench");
        _client = _app.GetTestClient();
        _client.DefaultRequestHeaders.Add("X-API-Key", key.Plaintext);
    }

    [GlobalCleanup]
    public async Task CleanupAsync() => await _app.DisposeAsync();

    [Benchmark(Baseline = true)]
    public Task<string> AuthenticatedOnly() => _client.GetStringAsync("/authenticated");

    [Benchmark]
    public Task<string> MeteredWithLimits() => _client.GetStringAsync("/metered");
}
