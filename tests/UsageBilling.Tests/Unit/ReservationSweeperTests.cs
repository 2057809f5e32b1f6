using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Options;
using UsageBilling.Tests.Faults;

namespace UsageBilling.Tests.Unit;

/// <summary>The sweeper as it runs in production: a hosted service on its own timer, which no test calls directly.</summary>
public sealed class ReservationSweeperTests
{
    private static readonly DateTimeOffset Now = new(2026, 3, 10, 9, 0, 0, TimeSpan.Zero);
    private static readonly TimeSpan Interval = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task The_hosted_sweeper_releases_expired_holds_on_its_own_at_every_interval_and_counts_them()
    {
        await using var harness = HostedSweeperHarness(TimeSpan.FromHours(1));
        using var expired = ExpiredReservations(harness);
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

    [Fact]
    public async Task The_hosted_sweeper_outlives_a_failed_sweep_logs_it_and_releases_the_hold_at_the_next_interval()
    {
        await using var harness = HostedSweeperHarness(TimeSpan.FromMinutes(5));
        using var expired = ExpiredReservations(harness);
        var caller = await harness.CallerAsync(credit: 10m);
        var crashed = await harness.Credits.ReserveAsync(caller.Account.Id, Money.FromUnits(3m), "crashed-call");
        harness.Time.Advance(TimeSpan.FromMinutes(6));

        // The store is down for the first sweep (a refused connection), then back.
        var faults = new StoreFaults();
        faults.Arm("expire", 1, afterApplying: false);
        var logger = new FakeLogger<ReservationSweeper>();
        var sweeper = new ReservationSweeper(new FaultyCreditStore(harness.CreditStore, faults), harness.Services.GetRequiredService<PendingCompletions>(),
            harness.Time, harness.Services.GetRequiredService<UsageBillingMetrics>(), logger, harness.Services.GetRequiredService<IOptions<UsageBillingOptions>>());
        using var stop = new CancellationTokenSource();
        await sweeper.StartAsync(stop.Token);
        try
        {
            await AdvanceUntilMeasuredAsync(harness, expired, 1);
        }
        finally
        {
            await stop.CancelAsync();
            await sweeper.StopAsync(CancellationToken.None);
        }

        Assert.Equal(1, faults.Thrown);
        var failed = Assert.Single(logger.Collector.GetSnapshot(), r => r.Id.Name == "ReservationSweepFailed");
        Assert.IsType<InjectedStoreFaultException>(failed.Exception);
        Assert.Equal(ReservationState.Expired, (await harness.CreditStore.FindReservationAsync(crashed.Reservation!.Id))!.State);
        var balance = await harness.Credits.GetBalanceAsync(caller.Account.Id);
        Assert.Equal(Money.Zero, balance.Reserved);
        Assert.Equal(Money.FromUnits(10m), balance.Available);
    }

    [Fact]
    public async Task The_sweepers_lag_is_unknown_before_it_runs_then_counts_from_its_start_and_then_from_its_last_finished_sweep()
    {
        await using var harness = HostedSweeperHarness(TimeSpan.FromMinutes(1));
        using var expired = ExpiredReservations(harness);
        using var durations = new MetricCollector<double>(harness.Services.GetRequiredService<IMeterFactory>(), UsageBillingMetrics.MeterName,
            "usagebilling.store.duration");
        var caller = await harness.CallerAsync(credit: 10m);
        await harness.Credits.ReserveAsync(caller.Account.Id, Money.FromUnits(3m), "crashed-call");
        harness.Time.Advance(TimeSpan.FromSeconds(30));
        var sweeper = harness.Services.GetRequiredService<ReservationSweeper>();

        // What the health check reports as the sweeper's lag: nothing while it is not running, then the time since its start.
        Assert.Null(sweeper.Lag);
        var startedAt = harness.Time.GetUtcNow();
        using var stop = new CancellationTokenSource();
        await sweeper.StartAsync(stop.Token);
        try
        {
            // The service starts on a thread of its own; the clock stands still until it has.
            for (var i = 0; i < 500 && sweeper.Lag is null; i++)
            {
                await Task.Delay(10);
            }

            Assert.Equal(TimeSpan.Zero, sweeper.Lag);

            // The hold is due only after the start, so the sweep that releases it finished after the start: the lag counts from it.
            await AdvanceUntilMeasuredAsync(harness, expired, 1);
            var sinceStart = harness.Time.GetUtcNow() - startedAt;
            Assert.True(sweeper.Lag < sinceStart, $"a lag of {sweeper.Lag} after a sweep, {sinceStart} after the start");
        }
        finally
        {
            await stop.CancelAsync();
            await sweeper.StopAsync(CancellationToken.None);
        }

        Assert.Contains(durations.GetMeasurementSnapshot(), m => (string?)m.Tags["usagebilling.store.operation"] == "credits.expire");
    }

    [Fact]
    public async Task One_sweep_releases_every_expired_hold_batch_by_batch_and_counts_them_all()
    {
        await using var harness = new MeteredCallHarness(Now, o =>
        {
            o.Credits.ReservationTimeout = TimeSpan.FromMinutes(5);
            o.Credits.SweepBatchSize = 2;
        }, metrics: true);
        using var expired = ExpiredReservations(harness);
        var caller = await harness.CallerAsync(credit: 10m);
        for (var i = 0; i < 5; i++)
        {
            await harness.Credits.ReserveAsync(caller.Account.Id, Money.FromUnits(1m), $"crashed-{i}");
        }

        harness.Time.Advance(TimeSpan.FromMinutes(6));
        var running = await harness.Credits.ReserveAsync(caller.Account.Id, Money.FromUnits(1m), "running");

        // Five due holds in batches of two: two full batches and a last one of one, all in one sweep.
        Assert.Equal(5, await harness.Services.GetRequiredService<ReservationSweeper>().SweepOnceAsync(CancellationToken.None));
        Assert.Equal(5, expired.GetMeasurementSnapshot().Sum(m => m.Value));
        var balance = await harness.Credits.GetBalanceAsync(caller.Account.Id);
        Assert.Equal(Money.FromUnits(1m), balance.Reserved);
        Assert.Equal(Money.FromUnits(9m), balance.Available);
        Assert.Equal(ReservationState.Active, (await harness.CreditStore.FindReservationAsync(running.Reservation!.Id))!.State);

        // Nothing more is due: a sweep releases nothing and counts nothing.
        Assert.Equal(0, await harness.Services.GetRequiredService<ReservationSweeper>().SweepOnceAsync(CancellationToken.None));
        Assert.Equal(5, expired.GetMeasurementSnapshot().Sum(m => m.Value));
    }

    [Fact]
    public async Task A_sweep_that_releases_nothing_logs_and_counts_nothing()
    {
        await using var harness = new MeteredCallHarness(Now, o => o.Credits.ReservationTimeout = TimeSpan.FromMinutes(5), metrics: true);
        var logger = new FakeLogger<ReservationSweeper>();
        var sweeper = new ReservationSweeper(harness.CreditStore, harness.Services.GetRequiredService<PendingCompletions>(), harness.Time,
            harness.Services.GetRequiredService<UsageBillingMetrics>(), logger, harness.Services.GetRequiredService<IOptions<UsageBillingOptions>>());
        using var expired = ExpiredReservations(harness);
        var caller = await harness.CallerAsync(credit: 10m);
        await harness.Credits.ReserveAsync(caller.Account.Id, Money.FromUnits(1m), "running");

        // Every 30 s on every instance: an idle sweep must not write a line or a data point.
        Assert.Equal(0, await sweeper.SweepOnceAsync(CancellationToken.None));
        Assert.Empty(logger.Collector.GetSnapshot());
        Assert.Empty(expired.GetMeasurementSnapshot());

        harness.Time.Advance(TimeSpan.FromMinutes(6));
        Assert.Equal(1, await sweeper.SweepOnceAsync(CancellationToken.None));
        Assert.Equal("ReservationsExpired", Assert.Single(logger.Collector.GetSnapshot()).Id.Name);
        Assert.Equal(1, Assert.Single(expired.GetMeasurementSnapshot()).Value);
    }

    [Fact]
    public async Task While_a_completion_is_retried_the_sweeper_keeps_every_hold_and_sweeps_once_it_landed()
    {
        await using var harness = new MeteredCallHarness(Now, o => o.Credits.ReservationTimeout = TimeSpan.FromMinutes(5));
        var caller = await harness.CallerAsync(credit: 10m);
        var held = await harness.Credits.ReserveAsync(caller.Account.Id, Money.FromUnits(3m), "settle-in-retry");
        var crashed = await harness.Credits.ReserveAsync(caller.Account.Id, Money.FromUnits(1m), "crashed");
        var pending = harness.Services.GetRequiredService<PendingCompletions>();
        var settled = false;
        pending.Defer("settle " + held.Reservation!.Id, async ct =>
        {
            await harness.Credits.SettleAsync(held.Reservation.Id, Money.FromUnits(2m), ct);
            settled = true;
        }, new TimeoutException("the store timed out"));
        harness.Time.Advance(TimeSpan.FromMinutes(6));
        var sweeper = harness.Services.GetRequiredService<ReservationSweeper>();

        // The call completed and its settle is queued: its hold, though past its expiry, keeps its credit.
        Assert.Equal(0, await sweeper.SweepOnceAsync(CancellationToken.None));
        Assert.Equal(ReservationState.Active, (await harness.CreditStore.FindReservationAsync(held.Reservation.Id))!.State);
        Assert.Equal(ReservationState.Active, (await harness.CreditStore.FindReservationAsync(crashed.Reservation!.Id))!.State);
        Assert.Equal(Money.FromUnits(4m), (await harness.Credits.GetBalanceAsync(caller.Account.Id)).Reserved);

        using var stop = new CancellationTokenSource();
        await pending.StartAsync(stop.Token);
        try
        {
            for (var step = 0; step < 100 && pending.Count > 0; step++)
            {
                harness.Time.Advance(TimeSpan.FromMilliseconds(100));
                await Task.Delay(20);
            }
        }
        finally
        {
            await stop.CancelAsync();
            await pending.StopAsync(CancellationToken.None);
        }

        // The settle landed and charged; now the sweeper releases the crashed call's hold, and only that.
        Assert.True(settled);
        Assert.Equal(0, pending.Count);
        Assert.Equal(1, await sweeper.SweepOnceAsync(CancellationToken.None));
        Assert.Equal(ReservationState.Expired, (await harness.CreditStore.FindReservationAsync(crashed.Reservation.Id))!.State);
        var balance = await harness.Credits.GetBalanceAsync(caller.Account.Id);
        Assert.Equal(Money.FromUnits(8m), balance.Balance);
        Assert.Equal(Money.Zero, balance.Reserved);
    }

    /// <summary>
    /// Steps the clock one interval at a time until the sweeper has counted <paramref name="total"/> expired holds. The
    /// service starts on a thread of its own, so its timer may be armed only after a step; a slow machine only takes
    /// more steps, and a sweeper that does not sweep fails the assertion after all of them.
    /// </summary>
    /// <summary>In-memory stores, metrics on, and the hosted sweeper running every <see cref="Interval"/>.</summary>
    private static MeteredCallHarness HostedSweeperHarness(TimeSpan reservationTimeout) => new(Now, o =>
    {
        o.Credits.ReservationTimeout = reservationTimeout;
        o.Credits.SweepInterval = Interval;
    }, metrics: true);

    /// <summary>Collects <c>usagebilling.reservations.expired</c>: the holds the sweeper released.</summary>
    private static MetricCollector<long> ExpiredReservations(MeteredCallHarness harness)
        => new(harness.Services.GetRequiredService<IMeterFactory>(), UsageBillingMetrics.MeterName, "usagebilling.reservations.expired");

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
