using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using UsageBilling.Tests.Faults;

namespace UsageBilling.Tests.Integration;

public sealed class HealthCheckTests
{
    [Fact]
    public async Task The_sample_reports_healthy_when_its_stores_answer()
    {
        using var factory = new MeteredApiFactory();
        using var client = factory.CreateClient();

        using var response = await client.GetAsync("/healthz");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("Healthy", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task A_store_that_does_not_answer_makes_it_unhealthy()
    {
        using var factory = new MeteredApiFactory { ConfigureTestServices = services => services.AddSingleton<ICreditStore>(new UnreachableCreditStore()) };
        using var client = factory.CreateClient();

        using var response = await client.GetAsync("/healthz");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Equal("Unhealthy", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task A_usage_record_the_store_refused_makes_it_degraded_for_an_hour()
    {
        using var factory = new MeteredApiFactory();
        using var client = factory.CreateClient();
        factory.Services.GetRequiredService<UsageDeadLetters>().Add(new UsageRecord
        {
            RequestId = "req_1", Timestamp = factory.Time.GetUtcNow(), Method = "GET", Route = "/v1/quote", StatusCode = 200, DurationMs = 1, Cost = Money.Zero,
        }, new InvalidOperationException("value too long"));

        using (var degraded = await client.GetAsync("/health"))
        {
            Assert.Equal(HttpStatusCode.OK, degraded.StatusCode);
            Assert.Equal("Degraded", await degraded.Content.ReadAsStringAsync());
        }

        factory.Time.Advance(TimeSpan.FromHours(1));
        using var healthy = await client.GetAsync("/health");
        Assert.Equal("Healthy", await healthy.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task A_reservation_sweeper_that_finishes_no_sweep_for_three_intervals_makes_it_degraded()
    {
        // Sweeps fail (the store refuses the expiry query) while every other call answers.
        using var lagging = new MeteredApiFactory
        {
            ConfigureTestServices = services => services.AddSingleton<ICreditStore>(sp => new SweepRefusingCreditStore(sp.GetRequiredService<InMemoryCreditStore>())),
        };
        using var sweeping = new MeteredApiFactory();
        foreach (var factory in new[] { lagging, sweeping })
        {
            using var client = factory.CreateClient();
            Assert.Equal("Healthy", await client.GetStringAsync("/health"));
            for (var i = 0; i < 4; i++)
            {
                factory.Time.Advance(TimeSpan.FromSeconds(30));   // the default Credits:SweepInterval
                await Task.Delay(100);
            }
        }

        var report = await lagging.Services.GetRequiredService<HealthCheckService>().CheckHealthAsync();
        var entry = report.Entries["usagebilling"];
        Assert.Equal(HealthStatus.Degraded, entry.Status);
        Assert.Contains("reservation sweeper", entry.Description, StringComparison.Ordinal);
        Assert.True((double)entry.Data["sweeperLagSeconds"] >= 120);

        // The same time passing with sweeps that finish is healthy (polled: a sweep runs on its own thread after the tick).
        using var healthy = sweeping.CreateClient();
        var deadline = DateTime.UtcNow.AddSeconds(10);
        string status;
        while ((status = await healthy.GetStringAsync("/health")) != "Healthy" && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50);
        }

        Assert.Equal("Healthy", status);
    }

    /// <summary>The in-memory credit store, except that expiring reservations fails.</summary>
    private sealed class SweepRefusingCreditStore(ICreditStore inner) : ICreditStore
    {
        public ValueTask<CreditBalance> GetBalanceAsync(string accountId, CancellationToken cancellationToken = default) => inner.GetBalanceAsync(accountId, cancellationToken);

        public ValueTask<ReserveResult> ReserveAsync(CreditReservationRequest request, CancellationToken cancellationToken = default) => inner.ReserveAsync(request, cancellationToken);

        public ValueTask<SettleResult> SettleAsync(string reservationId, Money actualAmount, DateTimeOffset now, CancellationToken cancellationToken = default)
            => inner.SettleAsync(reservationId, actualAmount, now, cancellationToken);

        public ValueTask<bool> ReleaseAsync(string reservationId, DateTimeOffset now, CancellationToken cancellationToken = default) => inner.ReleaseAsync(reservationId, now, cancellationToken);

        public ValueTask<CreditReservation?> FindReservationAsync(string reservationId, CancellationToken cancellationToken = default) => inner.FindReservationAsync(reservationId, cancellationToken);

        public ValueTask<PostResult> PostAsync(LedgerPostRequest request, CancellationToken cancellationToken = default) => inner.PostAsync(request, cancellationToken);

        public ValueTask<LedgerPage> GetLedgerAsync(string accountId, int limit, string? cursor, CancellationToken cancellationToken = default) => inner.GetLedgerAsync(accountId, limit, cursor, cancellationToken);

        public ValueTask<int> ExpireReservationsAsync(DateTimeOffset now, DateTimeOffset createdBefore, int maxCount, CancellationToken cancellationToken = default)
            => throw new InjectedStoreFaultException("The expiry query timed out.");
    }

    /// <summary>A credit store whose server is gone: every call fails as a refused connection would.</summary>
    private sealed class UnreachableCreditStore : ICreditStore
    {
        public ValueTask<CreditBalance> GetBalanceAsync(string accountId, CancellationToken cancellationToken = default) => throw Down();

        public ValueTask<ReserveResult> ReserveAsync(CreditReservationRequest request, CancellationToken cancellationToken = default) => throw Down();

        public ValueTask<SettleResult> SettleAsync(string reservationId, Money actualAmount, DateTimeOffset now, CancellationToken cancellationToken = default) => throw Down();

        public ValueTask<bool> ReleaseAsync(string reservationId, DateTimeOffset now, CancellationToken cancellationToken = default) => throw Down();

        public ValueTask<CreditReservation?> FindReservationAsync(string reservationId, CancellationToken cancellationToken = default) => throw Down();

        public ValueTask<PostResult> PostAsync(LedgerPostRequest request, CancellationToken cancellationToken = default) => throw Down();

        public ValueTask<LedgerPage> GetLedgerAsync(string accountId, int limit, string? cursor, CancellationToken cancellationToken = default) => throw Down();

        public ValueTask<int> ExpireReservationsAsync(DateTimeOffset now, DateTimeOffset createdBefore, int maxCount, CancellationToken cancellationToken = default) => throw Down();

        private static InjectedStoreFaultException Down() => new("The credit store is unreachable.");
    }
}
