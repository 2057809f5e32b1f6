using System.Text.Json;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace UsageBilling;

/// <summary>The last good LiteLLM catalogue fetched from <see cref="PricingOptions.LiteLlmCatalogUrl"/>, read by <see cref="OptionsPricingCatalog"/>.</summary>
internal sealed class LiteLlmCatalogDownload
{
    private volatile LiteLlmPriceCatalog.Content? _content;
    private int _attempts;

    /// <summary>The last catalogue that was fetched and read; null until one was.</summary>
    public LiteLlmPriceCatalog.Content? Content => _content;

    /// <summary>How many fetches have finished, good or not (tests wait on it).</summary>
    public int Attempts => Volatile.Read(ref _attempts);

    internal void Replace(LiteLlmPriceCatalog.Content content) => _content = content;

    internal void Attempted() => Interlocked.Increment(ref _attempts);
}

/// <summary>
/// Fetches LiteLLM's catalogue from <see cref="PricingOptions.LiteLlmCatalogUrl"/> once at start (before the app
/// serves) and again every <see cref="PricingOptions.LiteLlmCatalogRefresh"/>, through the named client
/// <see cref="HttpClientName"/>. A fetch that fails, is not a catalogue or has no priced model logs a warning and keeps the
/// last good catalogue; the next interval tries again. A price that changed or was lost is logged and counted as a
/// file reload is.
/// </summary>
internal sealed partial class LiteLlmCatalogFetcher : BackgroundService
{
    /// <summary>The name of the <see cref="IHttpClientFactory"/> client the catalogue is fetched with.</summary>
    public const string HttpClientName = "UsageBilling.LiteLlmCatalog";

    private readonly IOptionsMonitor<UsageBillingOptions> _options;
    private readonly IHttpClientFactory _clients;
    private readonly LiteLlmCatalogDownload _download;
    private readonly TimeProvider _time;
    private readonly ILogger<LiteLlmCatalogFetcher> _logger;
    private readonly UsageBillingMetrics? _metrics;
    private PeriodicTimer? _timer;

    public LiteLlmCatalogFetcher(IOptionsMonitor<UsageBillingOptions> options, IHttpClientFactory clients, LiteLlmCatalogDownload download, TimeProvider time,
        ILogger<LiteLlmCatalogFetcher> logger, UsageBillingMetrics? metrics = null)
    {
        _options = options;
        _clients = clients;
        _download = download;
        _time = time;
        _logger = logger;
        _metrics = metrics;
    }

    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        var pricing = _options.CurrentValue.Pricing;
        if (string.IsNullOrWhiteSpace(pricing.LiteLlmCatalogUrl))
        {
            return;
        }

        // The timer starts before the first fetch, so that the refresh interval counts from start.
        _timer = new PeriodicTimer(pricing.LiteLlmCatalogRefresh, _time);
        await FetchAsync(cancellationToken).ConfigureAwait(false);
        await base.StartAsync(cancellationToken).ConfigureAwait(false);
    }

    public override void Dispose()
    {
        _timer?.Dispose();
        base.Dispose();
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (_timer is null)
        {
            return;
        }

        try
        {
            while (await _timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
            {
                await FetchAsync(stoppingToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    internal async Task FetchAsync(CancellationToken cancellationToken)
    {
        var url = _options.CurrentValue.Pricing.LiteLlmCatalogUrl;
        if (string.IsNullOrWhiteSpace(url))
        {
            return;
        }

        try
        {
            using var client = _clients.CreateClient(HttpClientName);
            using var response = await client.GetAsync(new Uri(url), HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
            if (!response.IsSuccessStatusCode)
            {
                throw new HttpRequestException($"the server answered {(int)response.StatusCode} {response.ReasonPhrase}", null, response.StatusCode);
            }

            LiteLlmPriceCatalog.Content content;
            var stream = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
            await using (stream.ConfigureAwait(false))
            {
                content = LiteLlmPriceCatalog.Read(stream);
            }

            if (content.Models.Count == 0)
            {
                throw new InvalidDataException("the catalogue prices no model");
            }

            if (_download.Content is { } before)
            {
                OptionsPricingCatalog.ReportChanges(_logger, _metrics, url, before, content);
            }

            _download.Replace(content);
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested && ex is HttpRequestException or JsonException or InvalidDataException or IOException or TaskCanceledException)
        {
            Log.FetchFailed(_logger, ex, url, _download.Content is null ? "no catalogue prices are in use until a fetch succeeds" : "the prices fetched before stay in use");
        }
        finally
        {
            _download.Attempted();
        }
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Warning, "The LiteLLM catalogue could not be fetched from {Url}; {Consequence}; it is tried again at the next refresh.", EventName = "CatalogueFetchFailed")]
        public static partial void FetchFailed(ILogger logger, Exception exception, string url, string consequence);
    }
}
