using System.Net;
using Microsoft.Extensions.DependencyInjection;
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
