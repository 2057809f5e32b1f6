using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace UsageBilling.EntityFrameworkCore.Tests;

/// <summary>
/// PostgreSQL becomes unreachable under a running app (every connection to it is cut and new ones are refused, as
/// when the server stops): metered and admin calls answer 503 with <c>Retry-After</c> and charge nothing; once it is
/// reachable again the same app serves and charges again, without a restart.
/// </summary>
public sealed class PostgresOutageTests(PostgresTestDatabase database) : IClassFixture<PostgresTestDatabase>
{
    [SkippableFact]
    public async Task An_unreachable_server_answers_503_and_the_app_recovers_without_a_restart()
    {
        Skip.If(database.SkipReason is not null, database.SkipReason);
        var target = new NpgsqlConnectionStringBuilder(database.ConnectionString);
        await using var proxy = new CuttableProxy(target.Host!, target.Port);
        var connection = new NpgsqlConnectionStringBuilder(database.ConnectionString) { Host = "127.0.0.1", Port = proxy.Port, Timeout = 3, MaxPoolSize = 10 }.ConnectionString;
        await using var app = await MeteredTestHost.StartAsync(TimeProvider.System, b => b.UseEntityFrameworkCore(ef => ef.UseNpgsql(connection)), app => app.MapUsageBillingAdmin());
        var (account, keyClient) = await MeteredTestHost.CustomerAsync(app, 100m);
        using var client = keyClient;
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/x")).StatusCode);

        proxy.Cut();
        for (var i = 0; i < 5; i++)
        {
            using var metered = await client.GetAsync("/x");
            Assert.Equal(HttpStatusCode.ServiceUnavailable, metered.StatusCode);
            Assert.NotNull(metered.Headers.RetryAfter);
            Assert.Contains(ProblemTypes.StoreUnavailable, await metered.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        using (var admin = await client.GetAsync($"/admin/billing/accounts/{account}"))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, admin.StatusCode);
            Assert.NotNull(admin.Headers.RetryAfter);
        }

        proxy.Restore();
        var deadline = DateTime.UtcNow.AddSeconds(60);
        HttpStatusCode status;
        do
        {
            using var response = await client.GetAsync("/x");
            status = response.StatusCode;
            Assert.True(status is HttpStatusCode.OK or HttpStatusCode.ServiceUnavailable, status.ToString());
            if (status != HttpStatusCode.OK)
            {
                Assert.True(DateTime.UtcNow < deadline, "The app did not recover within 60 s of the server becoming reachable.");
                await Task.Delay(250);
            }
        }
        while (status != HttpStatusCode.OK);

        var pending = app.Services.GetRequiredService<PendingCompletions>();
        for (var i = 0; i < 600 && pending.Count > 0; i++)
        {
            await Task.Delay(100);
        }

        // Two calls served and charged: the first and the one after recovery; the 503s cost nothing and hold nothing.
        Assert.Equal(new CreditBalance(Money.FromUnits(98m), Money.Zero), await app.Services.GetRequiredService<CreditManager>().GetBalanceAsync(account));
    }

    /// <summary>A loopback TCP relay to the server whose path can be cut (open connections reset, new ones refused) and restored.</summary>
    private sealed class CuttableProxy : IAsyncDisposable
    {
        private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
        private readonly string _host;
        private readonly int _port;
        private readonly CancellationTokenSource _stopped = new();
        private readonly List<TcpClient> _open = [];
        private volatile bool _cut;

        public CuttableProxy(string host, int port)
        {
            (_host, _port) = (host, port);
            _listener.Start();
            _ = AcceptAsync();
        }

        public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

        public void Cut()
        {
            _cut = true;
            lock (_open)
            {
                foreach (var client in _open)
                {
                    Reset(client);
                }

                _open.Clear();
            }
        }

        public void Restore() => _cut = false;

        public async ValueTask DisposeAsync()
        {
            await _stopped.CancelAsync();
            _listener.Stop();
            Cut();
            _stopped.Dispose();
        }

        private async Task AcceptAsync()
        {
            while (!_stopped.IsCancellationRequested)
            {
                TcpClient incoming;
                try
                {
                    incoming = await _listener.AcceptTcpClientAsync(_stopped.Token);
                }
                catch (Exception) when (_stopped.IsCancellationRequested)
                {
                    return;
                }
                catch (SocketException)
                {
                    continue;
                }

                if (_cut)
                {
                    Reset(incoming);
                    continue;
                }

                _ = RelayAsync(incoming);
            }
        }

        /// <summary>Closes with a reset (RST), as a stopped server's connections end; a side already closed is left alone.</summary>
        private static void Reset(TcpClient client)
        {
            if (client.Client is { Connected: true } socket)
            {
                socket.LingerState = new LingerOption(true, 0);
            }

            client.Dispose();
        }

        private async Task RelayAsync(TcpClient incoming)
        {
            var outgoing = new TcpClient();
            lock (_open)
            {
                _open.Add(incoming);
                _open.Add(outgoing);
            }

            try
            {
                await outgoing.ConnectAsync(_host, _port, _stopped.Token);
                await Task.WhenAny(incoming.GetStream().CopyToAsync(outgoing.GetStream(), _stopped.Token),
                    outgoing.GetStream().CopyToAsync(incoming.GetStream(), _stopped.Token));
            }
            catch (Exception ex) when (ex is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
            {
                // A cut path or a closed side ends the relay.
            }
            finally
            {
                incoming.Dispose();
                outgoing.Dispose();
            }
        }
    }
}
