using System.Globalization;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace UsageBilling;

/// <summary>Where and how <see cref="WebhookNotifier"/> posts billing events.</summary>
public sealed class WebhookOptions
{
    /// <summary>The absolute http(s) URL events are posted to.</summary>
    public Uri? Url { get; set; }

    /// <summary>The shared secret (at least 32 characters) that signs each body.</summary>
    public string Secret { get; set; } = "";

    /// <summary>How long one attempt may take. Default 10 s.</summary>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>How many attempts before giving up. Default 4.</summary>
    public int MaxAttempts { get; set; } = 4;

    /// <summary>The wait before the second attempt; it doubles for each further one. Default 1 s.</summary>
    public TimeSpan RetryDelay { get; set; } = TimeSpan.FromSeconds(1);
}

/// <summary>
/// Posts each billing event as camelCase JSON, signed with HMAC-SHA256 in the header
/// <c>X-UsageBilling-Signature: t={unix seconds},v1={hex HMAC of "{t}.{body}"}</c> (verify it and reject stale
/// timestamps), with the event id in <c>X-UsageBilling-Event-Id</c>. Failed or non-2xx attempts are retried with
/// backoff; after the last attempt the event is logged and dropped — requests never see delivery failures.
/// </summary>
public sealed partial class WebhookNotifier : IBillingNotifier
{
    /// <summary>The name of the <see cref="HttpClient"/> it uses (configure it with <c>AddHttpClient(WebhookNotifier.HttpClientName)</c>).</summary>
    public const string HttpClientName = "UsageBilling.Webhook";

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);
    private readonly IHttpClientFactory _clients;
    private readonly IOptionsMonitor<WebhookOptions> _options;
    private readonly TimeProvider _timeProvider;
    private readonly ILogger<WebhookNotifier> _logger;

    /// <summary>Creates the notifier.</summary>
    public WebhookNotifier(IHttpClientFactory clients, IOptionsMonitor<WebhookOptions> options, TimeProvider timeProvider, ILogger<WebhookNotifier> logger)
    {
        _clients = clients;
        _options = options;
        _timeProvider = timeProvider;
        _logger = logger;
    }

    /// <inheritdoc/>
    public async ValueTask NotifyAsync(BillingEvent billingEvent, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(billingEvent);
        var options = _options.CurrentValue;
        var body = JsonSerializer.SerializeToUtf8Bytes(billingEvent, Json);
        var delay = options.RetryDelay;
        for (var attempt = 1; attempt <= options.MaxAttempts; attempt++)
        {
            try
            {
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                timeout.CancelAfter(options.Timeout);
                using var request = new HttpRequestMessage(HttpMethod.Post, options.Url) { Content = new ByteArrayContent(body) };
                request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
                request.Headers.Add("X-UsageBilling-Event-Id", billingEvent.Id);
                request.Headers.Add("X-UsageBilling-Signature", Sign(options.Secret, _timeProvider.GetUtcNow().ToUnixTimeSeconds(), body));
                using var response = await _clients.CreateClient(HttpClientName).SendAsync(request, timeout.Token).ConfigureAwait(false);
                if (response.IsSuccessStatusCode)
                {
                    return;
                }

                Log.AttemptFailed(_logger, null, billingEvent.Id, attempt, (int)response.StatusCode);
            }
            catch (Exception ex) when (ex is HttpRequestException || (ex is OperationCanceledException && !cancellationToken.IsCancellationRequested))
            {
                Log.AttemptFailed(_logger, ex, billingEvent.Id, attempt, 0);
            }

            if (attempt < options.MaxAttempts)
            {
                await Task.Delay(delay, _timeProvider, cancellationToken).ConfigureAwait(false);
                delay *= 2;
            }
        }

        Log.GaveUp(_logger, billingEvent.Id, options.MaxAttempts);
    }

    /// <summary>The signature header value for a body sent at <paramref name="unixSeconds"/>.</summary>
    public static string Sign(string secret, long unixSeconds, ReadOnlySpan<byte> body)
    {
        ArgumentNullException.ThrowIfNull(secret);
        var prefix = Encoding.UTF8.GetBytes(unixSeconds.ToString(CultureInfo.InvariantCulture) + ".");
        var signed = new byte[prefix.Length + body.Length];
        prefix.CopyTo(signed, 0);
        body.CopyTo(signed.AsSpan(prefix.Length));
        var mac = HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), signed);
        return string.Create(CultureInfo.InvariantCulture, $"t={unixSeconds},v1={Convert.ToHexStringLower(mac)}");
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Warning, "Webhook delivery of event {EventId} failed on attempt {Attempt} (status {Status}).", EventName = "WebhookAttemptFailed")]
        public static partial void AttemptFailed(ILogger logger, Exception? exception, string eventId, int attempt, int status);

        [LoggerMessage(2, LogLevel.Error, "Webhook delivery of event {EventId} gave up after {Attempts} attempts.", EventName = "WebhookGaveUp")]
        public static partial void GaveUp(ILogger logger, string eventId, int attempts);
    }
}
