using System.Diagnostics.Metrics;
using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace UsageBilling.Tests.Llm;

/// <summary>
/// The LiteLLM catalogue fetched from a URL: a real local HTTP server serves the trimmed fixture
/// (Fixtures/litellm_model_prices.json), and a fake clock triggers the refreshes.
/// </summary>
public sealed class LiteLlmCatalogueUrlTests : IAsyncLifetime
{
    private static readonly string Fixture = Path.Combine(AppContext.BaseDirectory, "Llm", "Fixtures", "litellm_model_prices.json");
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 11, 29, 12, 0, 0, TimeSpan.Zero));
    private WebApplication _server = null!;
    private string _url = null!;
    private volatile int _status = StatusCodes.Status200OK;
    private volatile string _body = "";
    private int _requests;

    public async Task InitializeAsync()
    {
        _body = await File.ReadAllTextAsync(Fixture);
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseKestrel().UseUrls("http://127.0.0.1:0");
        _server = builder.Build();
        _server.MapGet("/model_prices_and_context_window.json", (HttpContext context) =>
        {
            Interlocked.Increment(ref _requests);
            context.Response.StatusCode = _status;
            context.Response.ContentType = "application/json";
            return context.Response.WriteAsync(_body);
        });
        await _server.StartAsync();
        _url = _server.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single() + "/model_prices_and_context_window.json";
    }

    public async Task DisposeAsync() => await _server.DisposeAsync();

    [Fact]
    public async Task Prices_are_fetched_on_start_updated_at_each_refresh_and_kept_when_a_fetch_fails()
    {
        await using var app = await StartAppAsync();
        var catalog = app.Services.GetRequiredService<IPricingCatalog>();
        var download = app.Services.GetRequiredService<LiteLlmCatalogDownload>();
        using var changes = new MetricCollector<long>(app.Services.GetRequiredService<IMeterFactory>(), UsageBillingMetrics.MeterName, "usagebilling.pricing.catalog_changes");

        // Fetched before the app started serving: catalogue prices, and the operator's own price wins.
        Assert.Equal(1, Volatile.Read(ref _requests));
        Assert.Equal(5m, (await PriceAsync(catalog, "claude-opus-4-5")).InputPerMillion.ToUnits());
        Assert.Equal(1.5m, (await PriceAsync(catalog, "codex-mini-latest")).InputPerMillion.ToUnits());
        Assert.Equal(1m, (await PriceAsync(catalog, "magistral-medium-2506")).InputPerMillion.ToUnits());

        // Nothing is fetched before the interval is over.
        _time.Advance(TimeSpan.FromHours(6) - TimeSpan.FromSeconds(1));
        await Task.Delay(50);
        Assert.Equal(1, download.Attempts);

        // The next response changes a price and drops a model: both apply, and are counted.
        _body = _body.Replace("\"input_cost_per_token\": 5e-06,", "\"input_cost_per_token\": 6e-06,", StringComparison.Ordinal)
            .Replace("\"codex-mini-latest\"", "\"codex-mini-retired\"", StringComparison.Ordinal);
        await RefreshAsync(download, 2);
        Assert.Equal(6m, (await PriceAsync(catalog, "claude-opus-4-5")).InputPerMillion.ToUnits());
        Assert.Null(await catalog.GetModelPriceAsync("codex-mini-latest", _time.GetUtcNow()));
        Assert.Equal(
            [("claude-opus-4-5", "changed"), ("codex-mini-latest", "lost")],
            changes.GetMeasurementSnapshot().Select(m => ((string)m.Tags["usagebilling.model"]!, (string)m.Tags["usagebilling.kind"]!)).Order());

        // A 500, a body that is not JSON and an empty catalogue keep the last good prices, and count nothing.
        foreach (var (status, body) in new[] { (500, "{}"), (200, "<html>maintenance</html>"), (200, "{}"), (200, "{\"sample_spec\": {}}") })
        {
            (_status, _body) = (status, body);
            await RefreshAsync(download, download.Attempts + 1);
            Assert.Equal(6m, (await PriceAsync(catalog, "claude-opus-4-5")).InputPerMillion.ToUnits());
            Assert.Equal(1.5m, (await PriceAsync(catalog, "codex-mini-retired")).InputPerMillion.ToUnits());
            Assert.Equal(2, changes.GetMeasurementSnapshot().Count);
        }

        var warnings = app.Services.GetRequiredService<FakeLogCollector>().GetSnapshot().Where(r => r.Id.Name == "CatalogueFetchFailed").ToList();
        Assert.Equal(4, warnings.Count);
        Assert.All(warnings, w => Assert.Equal(LogLevel.Warning, w.Level));
        Assert.Contains("the prices fetched before stay in use", warnings[0].Message, StringComparison.Ordinal);

        // The server recovers: the next interval picks the catalogue up again.
        (_status, _body) = (200, await File.ReadAllTextAsync(Fixture));
        await RefreshAsync(download, download.Attempts + 1);
        Assert.Equal(5m, (await PriceAsync(catalog, "claude-opus-4-5")).InputPerMillion.ToUnits());
    }

    [Fact]
    public async Task A_failed_first_fetch_leaves_catalogue_models_unpriced_until_a_fetch_succeeds()
    {
        _status = StatusCodes.Status503ServiceUnavailable;
        await using var app = await StartAppAsync();
        var catalog = app.Services.GetRequiredService<IPricingCatalog>();
        var download = app.Services.GetRequiredService<LiteLlmCatalogDownload>();
        Assert.Equal(1, download.Attempts);
        Assert.Null(await catalog.GetModelPriceAsync("claude-opus-4-5", _time.GetUtcNow()));

        _status = StatusCodes.Status200OK;
        await RefreshAsync(download, 2);
        Assert.Equal(5m, (await PriceAsync(catalog, "claude-opus-4-5")).InputPerMillion.ToUnits());
    }

    [Fact]
    public void A_file_and_a_url_together_are_refused()
    {
        var options = new UsageBillingOptions();
        options.Pricing.LiteLlmCatalogFile = Fixture;
        options.Pricing.LiteLlmCatalogUrl = "http://127.0.0.1:1/catalogue.json";
        var result = new UsageBillingOptionsValidator().Validate(null, options);
        Assert.True(result.Failed);
        Assert.Contains("LiteLlmCatalogFile and LiteLlmCatalogUrl are both set", result.FailureMessage, StringComparison.Ordinal);

        options.Pricing.LiteLlmCatalogFile = null;
        options.Pricing.LiteLlmCatalogUrl = "file:///etc/passwd";
        Assert.Contains("must be an absolute http or https URL", new UsageBillingOptionsValidator().Validate(null, options).FailureMessage, StringComparison.Ordinal);
    }

    private async Task<WebApplication> StartAppAsync()
    {
        var builder = WebApplication.CreateBuilder();
        builder.WebHost.UseTestServer();
        builder.Services.AddSingleton<TimeProvider>(_time);
        builder.Logging.AddFakeLogging();
        builder.Services.AddUsageBilling(o =>
        {
            o.Pricing.LiteLlmCatalogUrl = _url;
            o.Pricing.Models.Add(new ModelPriceOptions { Model = "magistral-medium-2506", Input = 1m, Output = 1m });
        });
        var app = builder.Build();
        await app.StartAsync();
        return app;
    }

    /// <summary>Moves the clock past the refresh interval and waits until the fetch it starts has finished.</summary>
    private async Task RefreshAsync(LiteLlmCatalogDownload download, int attempts)
    {
        _time.Advance(TimeSpan.FromHours(6));
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (download.Attempts < attempts)
        {
            Assert.True(DateTime.UtcNow < deadline, $"fetch {attempts} did not happen");
            await Task.Delay(10);
        }
    }

    private async Task<ModelPrice> PriceAsync(IPricingCatalog catalog, string model)
        => await catalog.GetModelPriceAsync(model, _time.GetUtcNow()) ?? throw new Xunit.Sdk.XunitException($"'{model}' has no price.");
}
