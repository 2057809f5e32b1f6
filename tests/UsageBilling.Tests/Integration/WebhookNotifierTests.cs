using System.Collections.Concurrent;
using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

using UsageBilling.Tests.Shared;

namespace UsageBilling.Tests.Integration;

/// <summary>Delivers events to a real HTTP receiver on 127.0.0.1.</summary>
public sealed class WebhookNotifierTests : IAsyncLifetime
{
    private const string Secret = "0123456789abcdef0123456789abcdef-secret";
    private readonly ConcurrentQueue<(string Signature, string EventId, string Timestamp, byte[] Body)> _received = new();
    private WebApplication _receiver = null!;
    private int _failuresLeft;
    private Uri _url = null!;

    public async Task InitializeAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        _receiver = builder.Build();
        _receiver.MapPost("/hook", async (HttpContext context) =>
        {
            using var body = new MemoryStream();
            await context.Request.Body.CopyToAsync(body);
            if (Interlocked.Decrement(ref _failuresLeft) >= 0)
            {
                context.Response.Headers.RetryAfter = "0";
                return Results.StatusCode(503);
            }

            _received.Enqueue((context.Request.Headers["webhook-signature"].ToString(), context.Request.Headers["webhook-id"].ToString(),
                context.Request.Headers["webhook-timestamp"].ToString(), body.ToArray()));
            return Results.Ok();
        });
        await _receiver.StartAsync();
        var address = _receiver.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        _url = new Uri(new Uri(address), "/hook");
    }

    public async Task DisposeAsync() => await _receiver.DisposeAsync();

    [Fact]
    public async Task Events_are_posted_signed_and_retried_until_delivered()
    {
        _failuresLeft = 2;
        var notifier = Notifier(maxAttempts: 4);
        var billingEvent = new BillingEvent { Id = "evt_1", Type = BillingEventTypes.LowBalance, OccurredAt = DateTimeOffset.UnixEpoch, AccountId = "acct_1", Available = Money.FromUnits(0.5m) };

        await notifier.NotifyAsync(billingEvent, CancellationToken.None);

        var (signature, eventId, timestampText, body) = Assert.Single(_received);
        Assert.Equal("evt_1", eventId);
        var timestamp = long.Parse(timestampText, System.Globalization.CultureInfo.InvariantCulture);
        Assert.Equal(WebhookNotifier.Sign(Secret, eventId, timestamp, body), signature);
        Assert.NotEqual(WebhookNotifier.Sign("another-secret-another-secret-123456", eventId, timestamp, body), signature);
        Assert.Contains("\"type\":\"balance.low\"", System.Text.Encoding.UTF8.GetString(body), StringComparison.Ordinal);
        Assert.Contains("\"available\":0.5", System.Text.Encoding.UTF8.GetString(body), StringComparison.Ordinal);
    }

    [Fact]
    public async Task After_the_last_attempt_the_event_is_dropped_without_throwing()
    {
        _failuresLeft = 10;
        await Notifier(maxAttempts: 2).NotifyAsync(new BillingEvent { Id = "evt_2", Type = "t", OccurredAt = DateTimeOffset.UnixEpoch, AccountId = "a" }, CancellationToken.None);
        Assert.Empty(_received);
        Assert.Equal(8, _failuresLeft);
    }

    [Fact]
    public void The_signature_matches_the_Standard_Webhooks_test_vector()
    {
        // The worked example of the Standard Webhooks specification (also used by its reference libraries).
        var signature = WebhookNotifier.Sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330,
            System.Text.Encoding.UTF8.GetBytes("{\"test\": 2432232314}"));
        Assert.Equal("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", signature);
    }

    [Theory]
    [InlineData("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", true)]
    [InlineData("0123456789abcdef0123456789abcdef", true)]
    [InlineData("whsec_not*base64", false)]
    [InlineData("whsec_AAAA", false)]
    [InlineData("too-short", false)]
    public void Secrets_are_whsec_base64_or_32_characters(string secret, bool valid)
        => Assert.Equal(valid, WebhookNotifier.IsValidSecret(secret));

    private WebhookNotifier Notifier(int maxAttempts)
    {
        var services = new ServiceCollection();
        services.AddLogging();
        var options = new WebhookOptions { Url = _url, Secret = Secret, MaxAttempts = maxAttempts, RetryDelay = TimeSpan.FromMilliseconds(10), Timeout = TimeSpan.FromSeconds(5) };
        services.AddSingleton<IOptionsMonitor<WebhookOptions>>(new StaticOptionsMonitor<WebhookOptions>(options));
        services.AddHttpClient(WebhookNotifier.HttpClientName).AddWebhookResilience();
        var provider = services.BuildServiceProvider();
        return new WebhookNotifier(provider.GetRequiredService<IHttpClientFactory>(), provider.GetRequiredService<IOptionsMonitor<WebhookOptions>>(), TimeProvider.System, NullLogger<WebhookNotifier>.Instance);
    }
}
