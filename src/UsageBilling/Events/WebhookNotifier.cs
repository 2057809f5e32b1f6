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
    /// <summary>The name of the <see cref="HttpClient"/> webhooks are posted with (configure it with <c>AddHttpClient(WebhookOptions.HttpClientName)</c>).</summary>
    public const string HttpClientName = "UsageBilling.Webhook";

    /// <summary>The absolute http(s) URL events are posted to.</summary>
    public Uri? Url { get; set; }

    /// <summary>
    /// The signing secret: a Standard Webhooks secret <c>whsec_</c> followed by base64 (the key is the decoded bytes),
    /// or any other string of at least 32 characters (the key is its UTF-8 bytes).
    /// </summary>
    public string Secret { get; set; } = "";

    /// <summary>How long one attempt may take. Default 10 s.</summary>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>How many attempts before giving up. Default 4.</summary>
    public int MaxAttempts { get; set; } = 4;

    /// <summary>The base wait before a retry; it grows exponentially with jitter, and a <c>Retry-After</c> from the receiver wins. Default 1 s.</summary>
    public TimeSpan RetryDelay { get; set; } = TimeSpan.FromSeconds(1);
}

/// <summary>
/// Posts each billing event as camelCase JSON, signed per the Standard Webhooks specification: <c>webhook-id</c> (the
/// event id), <c>webhook-timestamp</c> (Unix seconds) and <c>webhook-signature</c>: <c>v1,{base64 HMAC-SHA256 of
/// "{id}.{timestamp}.{body}"}</c>, which the Standard Webhooks libraries of every language verify. Delivery goes
/// through the <see cref="HttpClientName"/> client of <see cref="IHttpClientFactory"/>, whose resilience pipeline
/// (registered by <c>AddWebhookNotifier</c>) retries transient failures (5xx, 408, 429, network errors, timeouts) with
/// exponential backoff and jitter, honouring <c>Retry-After</c>, under a per-attempt timeout and a circuit breaker.
/// After the last attempt the event is logged and dropped — requests never see delivery failures.
/// </summary>
internal sealed partial class WebhookNotifier : IBillingNotifier
{
    /// <summary>The name of the <see cref="HttpClient"/> it uses.</summary>
    public const string HttpClientName = WebhookOptions.HttpClientName;

    private const string SecretPrefix = "whsec_";

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
        var timestamp = _timeProvider.GetUtcNow().ToUnixTimeSeconds();
        try
        {
            // The same id, timestamp and signature on every retry: the receiver deduplicates by webhook-id.
            using var request = new HttpRequestMessage(HttpMethod.Post, options.Url) { Content = new ByteArrayContent(body) };
            request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
            request.Headers.Add("webhook-id", billingEvent.Id);
            request.Headers.Add("webhook-timestamp", timestamp.ToString(CultureInfo.InvariantCulture));
            request.Headers.Add("webhook-signature", Sign(options.Secret, billingEvent.Id, timestamp, body));
            using var response = await _clients.CreateClient(HttpClientName).SendAsync(request, cancellationToken).ConfigureAwait(false);
            if (!response.IsSuccessStatusCode)
            {
                Log.GaveUp(_logger, null, billingEvent.Id, (int)response.StatusCode);
            }
        }
        catch (Exception ex) when (ex is HttpRequestException or Polly.CircuitBreaker.BrokenCircuitException or Polly.Timeout.TimeoutRejectedException
            || (ex is OperationCanceledException && !cancellationToken.IsCancellationRequested))
        {
            Log.GaveUp(_logger, ex, billingEvent.Id, 0);
        }
    }

    /// <summary>
    /// The Standard Webhooks <c>webhook-signature</c> value of a message: <c>v1,{base64 HMAC-SHA256 of "{id}.{timestamp}.{body}"}</c>.
    /// </summary>
    /// <param name="secret">A <c>whsec_</c> secret (base64 key) or any other string (UTF-8 key).</param>
    /// <param name="messageId">The <c>webhook-id</c>.</param>
    /// <param name="unixSeconds">The <c>webhook-timestamp</c>.</param>
    /// <param name="body">The exact body bytes sent.</param>
    public static string Sign(string secret, string messageId, long unixSeconds, ReadOnlySpan<byte> body)
    {
        ArgumentNullException.ThrowIfNull(secret);
        ArgumentNullException.ThrowIfNull(messageId);
        var prefix = Encoding.UTF8.GetBytes(string.Create(CultureInfo.InvariantCulture, $"{messageId}.{unixSeconds}."));
        var signed = new byte[prefix.Length + body.Length];
        prefix.CopyTo(signed, 0);
        body.CopyTo(signed.AsSpan(prefix.Length));
        var mac = HMACSHA256.HashData(Key(secret), signed);
        return "v1," + Convert.ToBase64String(mac);
    }

    /// <summary>The HMAC key of a secret: the base64 after <c>whsec_</c>, or the UTF-8 bytes of any other secret.</summary>
    internal static byte[] Key(string secret)
        => secret.StartsWith(SecretPrefix, StringComparison.Ordinal) ? Convert.FromBase64String(secret[SecretPrefix.Length..]) : Encoding.UTF8.GetBytes(secret);

    /// <summary>Whether <paramref name="secret"/> is usable: a <c>whsec_</c> secret of valid base64 with 24 to 64 key bytes, or 32+ characters.</summary>
    internal static bool IsValidSecret(string? secret)
    {
        if (string.IsNullOrEmpty(secret))
        {
            return false;
        }

        if (!secret.StartsWith(SecretPrefix, StringComparison.Ordinal))
        {
            return secret.Length >= 32;
        }

        var buffer = new byte[secret.Length];
        return Convert.TryFromBase64String(secret[SecretPrefix.Length..], buffer, out var length) && length is >= 24 and <= 64;
    }

    private static partial class Log
    {
        [LoggerMessage(2, LogLevel.Error, "Webhook delivery of event {EventId} gave up after the last attempt (status {Status}; 0: no answer).", EventName = "WebhookGaveUp")]
        public static partial void GaveUp(ILogger logger, Exception? exception, string eventId, int status);
    }
}
