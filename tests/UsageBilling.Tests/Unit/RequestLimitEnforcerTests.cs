using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace UsageBilling.Tests.Unit;

public sealed class RequestLimitEnforcerTests
{
    private static readonly DateTimeOffset Now = new(2026, 2, 14, 13, 45, 30, TimeSpan.Zero);

    [Fact]
    public void Windows_are_aligned_to_utc_and_the_month_to_the_calendar()
    {
        var windows = RequestLimitEnforcer.Windows("key_1", new RequestLimits
        {
            RequestsPerSecond = 1, RequestsPerMinute = 2, RequestsPerHour = 3, RequestsPerDay = 4, MonthlyRequests = 5,
        }, Now);

        Assert.Equal(["second", "minute", "hour", "day", "month"], windows.Select(w => w.Policy));
        Assert.Equal(Now.AddSeconds(1), windows[0].ResetAt);
        Assert.Equal(new DateTimeOffset(2026, 2, 14, 13, 46, 0, TimeSpan.Zero), windows[1].ResetAt);
        Assert.Equal(new DateTimeOffset(2026, 2, 14, 14, 0, 0, TimeSpan.Zero), windows[2].ResetAt);
        Assert.Equal(new DateTimeOffset(2026, 2, 15, 0, 0, 0, TimeSpan.Zero), windows[3].ResetAt);
        Assert.Equal(new DateTimeOffset(2026, 3, 1, 0, 0, 0, TimeSpan.Zero), windows[4].ResetAt);
        Assert.Equal(28 * 86_400, windows[4].Seconds);
        Assert.Equal("key_1:mo:202602", windows[4].CounterKey);
        Assert.Equal(windows.Count, windows.Select(w => w.CounterKey).Distinct().Count());
    }

    [Fact]
    public async Task Concurrent_requests_never_together_exceed_a_limit()
    {
        var enforcer = new RequestLimitEnforcer(new InMemoryRateLimitCounterStore(TimeProvider.System));
        var limits = new RequestLimits { RequestsPerMinute = 50 };

        var decisions = await Task.WhenAll(Enumerable.Range(0, 500).Select(_ =>
            Task.Run(async () => await enforcer.AcquireAsync("key_1", limits, Now, CancellationToken.None))));

        Assert.Equal(50, decisions.Count(d => d.Allowed));
        Assert.All(decisions.Where(d => !d.Allowed), d => Assert.Equal("minute", d.Exceeded!.Value.Policy));
    }

    [Fact]
    public async Task A_refused_request_gives_its_counts_back_in_every_window()
    {
        var counters = new InMemoryRateLimitCounterStore(TimeProvider.System);
        var enforcer = new RequestLimitEnforcer(counters);
        var limits = new RequestLimits { RequestsPerSecond = 1, RequestsPerDay = 100 };

        Assert.True((await enforcer.AcquireAsync("key_1", limits, Now, CancellationToken.None)).Allowed);
        var refused = await enforcer.AcquireAsync("key_1", limits, Now, CancellationToken.None);
        Assert.False(refused.Allowed);

        var keys = RequestLimitEnforcer.Windows("key_1", limits, Now).Select(w => w.CounterKey).ToList();
        Assert.Equal(new long[] { 1, 1 }, await counters.GetAsync(keys));
        Assert.Equal(0, refused.Binding!.Value.Remaining);
    }

    [Fact]
    public async Task Rejections_are_counted_by_reason_in_metrics()
    {
        var services = new ServiceCollection().AddMetrics().AddSingleton<UsageBillingMetrics>().BuildServiceProvider();
        var metrics = services.GetRequiredService<UsageBillingMetrics>();
        using var collector = new MetricCollector<long>(services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>(),
            UsageBillingMetrics.MeterName, "usagebilling.requests.rejected");

        metrics.RequestRejected(UsageOutcomes.RateLimited);
        metrics.RequestRejected(UsageOutcomes.RateLimited);
        metrics.RequestRejected(UsageOutcomes.InsufficientCredits);

        await collector.WaitForMeasurementsAsync(3, TimeSpan.FromSeconds(5));
        var byReason = collector.GetMeasurementSnapshot().GroupBy(m => m.Tags["usagebilling.reason"]).ToDictionary(g => g.Key!, g => g.Sum(m => m.Value));
        Assert.Equal(2, byReason[UsageOutcomes.RateLimited]);
        Assert.Equal(1, byReason[UsageOutcomes.InsufficientCredits]);
        await services.DisposeAsync();
    }

    [Fact]
    public async Task The_in_memory_counter_store_drops_expired_windows()
    {
        var time = new FakeTimeProvider(Now);
        var store = new InMemoryRateLimitCounterStore(time);
        await store.IncrementAsync([new CounterIncrement("old", 1, Now.AddSeconds(1))]);
        time.Advance(TimeSpan.FromMinutes(1));
        for (var i = 0; i < 10_000; i++)
        {
            await store.IncrementAsync([new CounterIncrement("current", 1, Now.AddHours(1))]);
        }

        var values = await store.GetAsync(["old", "current"]);
        Assert.Equal(new long[] { 0, 10_000 }, values);
    }
}
