using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;

namespace UsageBilling.Tests.Unit;

/// <summary>The sweeper as it runs in production: a hosted service on its own timer, which no test calls directly.</summary>
public sealed class ReservationSweeperTests
{
    private static readonly DateTimeOffset Now = new(2026, 3, 10, 9, 0, 0, TimeSpan.Zero);
    private static readonly TimeSpan Interval = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task The_hosted_sweeper_releases_expired_holds_on_its_own_at_every_interval_and_counts_them()
    {
        await using var harness = new MeteredCallHarness(Now, o =>
        {
            o.Credits.ReservationTimeout = TimeSpan.FromHours(1);
            o.Credits.SweepInterval = Interval;
        }, metrics: true);
        using var expired = new MetricCollector<long>(harness.Services.GetRequiredService<IMeterFactory>(), UsageBillingMetrics.MeterName,
            "usagebilling.reservations.expired");
        var caller = await harness.CallerAsync(credit: 10m);
        var crashed = await harness.Credits.ReserveAsync(caller.Account.Id, Money.FromUnits(3m), "crashed-call");
        harness.Time.Advance(TimeSpan.FromHours(2));
        var running = await harness.Credits.ReserveAsync(caller.Account.Id, Money.FromUnits(2m), "running-call");

        var sweeper = harness.Services.GetRequiredService<ReservationSweeper>();
        using var stop = new CancellationTokenSource();
        await sweeper.StartAsync(stop.Token);
        try
        {
            await AdvanceUntilMeasuredAsync(harness, expired, 1);
            Assert.Equal(ReservationState.Expired, (await harness.CreditStore.FindReservationAsync(crashed.Reservation!.Id))!.State);
            Assert.Equal(ReservationState.Active, (await harness.CreditStore.FindReservationAsync(running.Reservation!.Id))!.State);
            var balance = await harness.Credits.GetBalanceAsync(caller.Account.Id);
            Assert.Equal(Money.FromUnits(2m), balance.Reserved);
            Assert.Equal(Money.FromUnits(8m), balance.Available);

            // The timer goes on after its first sweep: the running call's hold expires later and is released too.
            harness.Time.Advance(TimeSpan.FromHours(1));
            await AdvanceUntilMeasuredAsync(harness, expired, 2);
        }
        finally
        {
            await stop.CancelAsync();
            await sweeper.StopAsync(CancellationToken.None);
        }

        Assert.Equal(2, expired.GetMeasurementSnapshot().Sum(m => m.Value));
        Assert.Equal(ReservationState.Expired, (await harness.CreditStore.FindReservationAsync(running.Reservation.Id))!.State);
        Assert.Equal(Money.Zero, (await harness.Credits.GetBalanceAsync(caller.Account.Id)).Reserved);
    }

    /// <summary>
    /// Steps the clock one interval at a time until the sweeper has counted <paramref name="total"/> expired holds. The
    /// service starts on a thread of its own, so its timer may be armed only after a step; a slow machine only takes
    /// more steps, and a sweeper that does not sweep fails the assertion after all of them.
    /// </summary>
    private static async Task AdvanceUntilMeasuredAsync(MeteredCallHarness harness, MetricCollector<long> collector, long total)
    {
        for (var step = 0; step < 60 && collector.GetMeasurementSnapshot().Sum(m => m.Value) < total; step++)
        {
            harness.Time.Advance(Interval);
            try
            {
                await collector.WaitForMeasurementsAsync((int)total, TimeSpan.FromMilliseconds(500));
            }
            catch (OperationCanceledException)
            {
            }
            catch (TimeoutException)
            {
            }
        }

        Assert.Equal(total, collector.GetMeasurementSnapshot().Sum(m => m.Value));
    }
}
