using System.Net;
using System.Net.Http.Headers;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using UsageBilling.Tests.Shared;

namespace UsageBilling.Tests.Integration;

/// <summary>
/// On Kestrel, with the charges of completed calls held back by a gated completion store: a response the endpoint
/// flushes (<c>Results.Text</c> does) reaches the client only once its charge is written, so a crash in between cannot
/// serve it free; a server-sent-event stream and a body past the limit are not held; without
/// <see cref="CreditOptions.WaitForCharge"/> nothing is.
/// </summary>
public sealed class HeldResponseTests
{
    private static readonly TimeSpan NotBefore = TimeSpan.FromMilliseconds(500);

    [Fact]
    public async Task A_flushed_response_reaches_the_client_only_after_its_charge_is_written()
    {
        await using var host = await GatedHost.StartAsync(waitForCharge: true);

        var sent = host.Client.GetAsync("/text", HttpCompletionOption.ResponseHeadersRead);

        // The endpoint answered and flushed at once; its charge waits at the gate, and so does the response.
        await host.Completions.Entered.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.NotSame(sent, await Task.WhenAny(sent, Task.Delay(NotBefore)));
        Assert.Equal(Money.FromUnits(10m), (await host.BalanceAsync()).Balance);

        host.Completions.Open();
        using var response = await sent.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("ok", await response.Content.ReadAsStringAsync());
        Assert.Equal(Money.FromUnits(9m), (await host.BalanceAsync()).Balance);
    }

    [Fact]
    public async Task A_server_sent_event_stream_is_not_held()
    {
        await using var host = await GatedHost.StartAsync(waitForCharge: true);

        using var response = await host.Client.GetAsync("/events", HttpCompletionOption.ResponseHeadersRead).WaitAsync(TimeSpan.FromSeconds(10));
        await using var stream = await response.Content.ReadAsStreamAsync();
        var buffer = new byte[64];
        var read = await stream.ReadAsync(buffer).AsTask().WaitAsync(TimeSpan.FromSeconds(10));

        // The first event arrived while the endpoint still streams, before anything could be charged.
        Assert.Equal("data: 1\n\n", System.Text.Encoding.UTF8.GetString(buffer, 0, read));
        Assert.False(host.Completions.Entered.IsCompleted);
        host.EndStream();
        await host.Completions.Entered.WaitAsync(TimeSpan.FromSeconds(10));
        host.Completions.Open();
    }

    [Fact]
    public async Task A_body_past_the_hold_limit_is_sent_as_written()
    {
        await using var host = await GatedHost.StartAsync(waitForCharge: true);

        // Over 1 MiB, flushed: it reaches the client whole while the charge still waits at the gate.
        using var response = await host.Client.GetAsync("/big").WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Equal(GatedHost.BigBody, (await response.Content.ReadAsStringAsync()).Length);
        Assert.Equal(Money.FromUnits(10m), (await host.BalanceAsync()).Balance);
        host.Completions.Open();
    }

    [Fact]
    public async Task Without_waiting_for_the_charge_a_response_is_not_held()
    {
        await using var host = await GatedHost.StartAsync(waitForCharge: false);

        using var response = await host.Client.GetAsync("/text").WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Equal("ok", await response.Content.ReadAsStringAsync());
        Assert.Equal(Money.FromUnits(10m), (await host.BalanceAsync()).Balance);
        host.Completions.Open();
    }

    private sealed class GatedHost : IAsyncDisposable
    {
        private readonly WebApplication _app;
        private readonly TaskCompletionSource _streamEnd = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private string _account = "";

        private GatedHost(WebApplication app, CompletionGate completions)
        {
            _app = app;
            Completions = completions;
        }

        public HttpClient Client { get; private set; } = null!;

        /// <summary>The length of <c>/big</c>'s body: past what a response is held for.</summary>
        public const int BigBody = (int)HeldResponse.MaxHeldBytes + 4096;

        /// <summary>The gate every completion batch waits at.</summary>
        public CompletionGate Completions { get; }

        public static async Task<GatedHost> StartAsync(bool waitForCharge)
        {
            var builder = WebApplication.CreateBuilder();
            builder.WebHost.UseKestrel().UseUrls("http://127.0.0.1:0");
            builder.Logging.ClearProviders();
            var gate = new CompletionGate();
            builder.Services.AddUsageBilling(o => o.Credits.WaitForCharge = waitForCharge);
            builder.Services.AddSingleton<ICallCompletionStore>(sp => new GatedCompletionStore(ActivatorUtilities.CreateInstance<StoreCallCompletions>(sp), gate));

            var app = builder.Build();
            var host = new GatedHost(app, gate);
            app.UseAuthentication();
            app.UseAuthorization();
            app.UseUsageBilling();
            app.MapGet("/text", () => Results.Text("ok")).RequireApiKey().WithCost(1m);
            app.MapGet("/big", () => Results.Text(new string('x', BigBody))).RequireApiKey().WithCost(1m);
            app.MapGet("/events", async (HttpContext context) =>
            {
                context.Response.ContentType = "text/event-stream";
                await context.Response.WriteAsync("data: 1\n\n");
                await context.Response.Body.FlushAsync();
                await host._streamEnd.Task;
            }).RequireApiKey().WithCost(1m);
            await app.StartAsync();

            var accounts = app.Services.GetRequiredService<AccountManager>();
            var account = await accounts.CreateAsync("Acme");
            await app.Services.GetRequiredService<CreditManager>().PostAsync(account.Id, LedgerEntryKind.Grant, Money.FromUnits(10m), "seed");
            var key = await app.Services.GetRequiredService<ApiKeyManager>().CreateAsync(account.Id, "k");
            host._account = account.Id;
            host.Client = new HttpClient { BaseAddress = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single()) };
            host.Client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key.Plaintext);
            return host;
        }

        public void EndStream() => _streamEnd.TrySetResult();

        public async Task<CreditBalance> BalanceAsync() => await _app.Services.GetRequiredService<ICreditStore>().GetBalanceAsync(_account);

        public async ValueTask DisposeAsync()
        {
            Completions.Open();
            EndStream();
            Client?.Dispose();
            await _app.DisposeAsync();
        }
    }
}
