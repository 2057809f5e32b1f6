using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Time.Testing;
using UsageBilling.Tests.Shared;

namespace UsageBilling.Tests.Unit;

/// <summary>
/// A completion the store failed on the request path (a settle, a release, a give-back) is retried off it until it
/// lands: when, how often, what is counted, and what shutdown does with what is still waiting.
/// </summary>
public sealed class PendingCompletionsTests
{
    [Fact]
    public async Task A_deferred_write_waits_100_ms_then_retries_until_it_lands_each_time_later()
    {
        await using var pending = new PendingHarness();
        var tries = 0;
        pending.Completions.Defer("settle res_1", _ => ++tries <= 2 ? throw new TimeoutException("store down") : ValueTask.CompletedTask, new TimeoutException());
        Assert.Equal(1, pending.Completions.Count);
        Assert.Equal(1, pending.Deferred.GetMeasurementSnapshot().Sum(m => m.Value));
        await pending.StartAsync();

        // Not before 100 ms after it failed; at 100 ms, the first retry (which fails too).
        await pending.AdvanceAsync(TimeSpan.FromMilliseconds(99));
        Assert.Equal(0, tries);
        await pending.AdvanceAsync(TimeSpan.FromMilliseconds(1));
        await WaitUntilAsync(() => tries == 1);

        // The second retry waits the backoff of attempt 1 (150-200 ms), not the first delay again; then it lands.
        await pending.AdvanceAsync(TimeSpan.FromMilliseconds(149));
        Assert.Equal(1, tries);
        await pending.AdvanceAsync(TimeSpan.FromMilliseconds(51));
        await WaitUntilAsync(() => tries == 2);

        // The third waits the backoff of attempt 2 (300-400 ms), and lands: the fourth attempt, the request path's included.
        await pending.AdvanceAsync(TimeSpan.FromMilliseconds(299));
        Assert.Equal(2, tries);
        await pending.AdvanceAsync(TimeSpan.FromMilliseconds(101));
        await WaitUntilAsync(() => pending.Completions.Count == 0);
        Assert.Equal(3, tries);
        var landed = Assert.Single(pending.Logs.Collector.GetSnapshot(), r => r.Id.Name == "CompletionLanded");
        Assert.Equal("The completion 'settle res_1' landed after 4 attempts.", landed.Message);
    }

    [Fact]
    public async Task The_loop_wakes_for_the_earliest_due_write_even_when_a_later_one_arrives_meanwhile()
    {
        await using var pending = new PendingHarness();
        await pending.StartAsync();
        var landed = new List<string>();
        pending.Completions.Defer("first", _ => { landed.Add("first"); return ValueTask.CompletedTask; }, new TimeoutException());
        await pending.AdvanceAsync(TimeSpan.FromMilliseconds(60));
        pending.Completions.Defer("second", _ => { landed.Add("second"); return ValueTask.CompletedTask; }, new TimeoutException());

        await pending.AdvanceAsync(TimeSpan.FromMilliseconds(40));
        await WaitUntilAsync(() => landed.Count == 1);
        Assert.Equal(["first"], landed);
        Assert.Equal(1, pending.Completions.Count);

        await pending.AdvanceAsync(TimeSpan.FromMilliseconds(60));
        await WaitUntilAsync(() => landed.Count == 2);
        Assert.Equal(0, pending.Completions.Count);
    }

    [Fact]
    public async Task The_loop_sleeps_until_the_next_due_write_instead_of_polling_and_goes_on_after_the_queue_empties()
    {
        await using var pending = new PendingHarness();
        await pending.StartAsync();
        var landed = 0;
        pending.Completions.Defer("settle res_1", _ => { landed++; return ValueTask.CompletedTask; }, new TimeoutException());

        // Waiting for a write due in 100 ms, the loop reads the clock a few times, not in a loop.
        await pending.AdvanceAsync(TimeSpan.Zero);
        var readsBefore = pending.Time.Reads;
        await Task.Delay(300);
        Assert.InRange(pending.Time.Reads - readsBefore, 0, 5);

        await pending.AdvanceAsync(TimeSpan.FromMilliseconds(100));
        await WaitUntilAsync(() => landed == 1);

        // Nothing waits now; a write deferred later is retried all the same.
        pending.Completions.Defer("settle res_2", _ => { landed++; return ValueTask.CompletedTask; }, new TimeoutException());
        await pending.AdvanceAsync(TimeSpan.FromMilliseconds(100));
        await WaitUntilAsync(() => landed == 2);
        Assert.Equal(0, pending.Completions.Count);
    }

    [Fact]
    public async Task A_retry_that_took_longer_than_the_next_backoff_is_tried_again_at_once_not_dropped()
    {
        await using var pending = new PendingHarness();
        await pending.StartAsync();
        var tries = 0;
        pending.Completions.Defer("settle res_slow", _ =>
        {
            if (++tries == 1)
            {
                // The store hangs for 10 s before it fails: the next try (due 150-200 ms after this one started) is
                // already overdue when the loop works out how long to sleep.
                pending.Time.Advance(TimeSpan.FromSeconds(10));
                throw new TimeoutException("store down");
            }

            return ValueTask.CompletedTask;
        }, new TimeoutException());

        await pending.AdvanceAsync(TimeSpan.FromMilliseconds(100));

        // No more time passes: the overdue retry runs at once and lands.
        await WaitUntilAsync(() => pending.Completions.Count == 0);
        Assert.Equal(2, tries);
    }

    [Fact]
    public async Task A_write_deferred_while_the_loop_is_busy_is_still_tried_at_shutdown()
    {
        await using var pending = new PendingHarness();
        await pending.StartAsync();
        var busy = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var tried = new List<string>();
        pending.Completions.Defer("settle res_busy", async _ =>
        {
            started.TrySetResult();
            await busy.Task;
            tried.Add("busy");
        }, new TimeoutException());
        await pending.AdvanceAsync(TimeSpan.FromMilliseconds(100));
        await started.Task.WaitAsync(TimeSpan.FromSeconds(30));

        // Queued while the loop waits on the first write, and never read by it: stopping still tries it.
        pending.Completions.Defer("release res_late", _ => { tried.Add("late"); return ValueTask.CompletedTask; }, new TimeoutException());
        var stopping = pending.Completions.StopAsync(CancellationToken.None);
        busy.SetResult();
        await stopping;

        Assert.Equal(["busy", "late"], tried);
        Assert.Equal(0, pending.Completions.Count);
        Assert.DoesNotContain(pending.Logs.Collector.GetSnapshot(), r => r.Id.Name == "CompletionLost");
    }

    [Fact]
    public async Task Run_defers_a_failed_write_and_says_it_did_not_land_but_lets_a_cancellation_through()
    {
        await using var pending = new PendingHarness();

        Assert.True(await pending.Completions.RunAsync("release res_1", _ => ValueTask.CompletedTask));
        Assert.Equal(0, pending.Completions.Count);

        Assert.False(await pending.Completions.RunAsync("release res_2", _ => throw new TimeoutException("store down")));
        Assert.Equal(1, pending.Completions.Count);
        Assert.Equal(1, pending.Deferred.GetMeasurementSnapshot().Sum(m => m.Value));

        await Assert.ThrowsAsync<OperationCanceledException>(async () => await pending.Completions.RunAsync("release res_3", _ => throw new OperationCanceledException()));
        Assert.Equal(1, pending.Completions.Count);
    }

    [Fact]
    public async Task Shutdown_tries_every_waiting_write_once_more_and_logs_those_still_failing_as_lost()
    {
        await using var pending = new PendingHarness();
        await pending.StartAsync();
        var tried = new List<string>();
        pending.Completions.Defer("settle res_ok", _ => { tried.Add("ok"); return ValueTask.CompletedTask; }, new TimeoutException());
        pending.Completions.Defer("settle res_down", _ => { tried.Add("down"); throw new TimeoutException("store down"); }, new TimeoutException());

        // Neither is due yet (the clock has not moved); stopping tries both now.
        await pending.AdvanceAsync(TimeSpan.Zero);
        await pending.Completions.StopAsync(CancellationToken.None);

        Assert.Equal(["ok", "down"], tried);
        Assert.Equal(1, pending.Completions.Count);
        var lost = Assert.Single(pending.Logs.Collector.GetSnapshot(), r => r.Id.Name == "CompletionLost");
        Assert.Equal(LogLevel.Error, lost.Level);
        Assert.Contains("settle res_down", lost.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_retry_cut_short_by_shutdown_is_not_a_failed_attempt_and_is_tried_once_more()
    {
        await using var pending = new PendingHarness();
        await pending.StartAsync();
        var calls = 0;
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        pending.Completions.Defer("settle res_slow", async ct =>
        {
            if (Interlocked.Increment(ref calls) == 1)
            {
                // The first retry waits on the store until the host stops.
                started.TrySetResult();
                await Task.Delay(Timeout.Infinite, ct);
            }
        }, new TimeoutException());
        await pending.AdvanceAsync(TimeSpan.FromMilliseconds(100));
        await started.Task.WaitAsync(TimeSpan.FromSeconds(30));

        await pending.Completions.StopAsync(CancellationToken.None);

        // Cut short, not failed: no failed attempt logged, and the last try at shutdown is its second attempt.
        Assert.Equal(2, calls);
        Assert.Equal(0, pending.Completions.Count);
        var logs = pending.Logs.Collector.GetSnapshot();
        Assert.DoesNotContain(logs, r => r.Id.Name == "CompletionRetryFailed");
        Assert.Equal("The completion 'settle res_slow' landed after 2 attempts.", Assert.Single(logs, r => r.Id.Name == "CompletionLanded").Message);
    }

    [Fact]
    public void The_retry_delay_doubles_from_100_ms_with_at_most_25_percent_jitter_and_never_exceeds_30_seconds()
    {
        for (var attempt = 1; attempt <= 40; attempt++)
        {
            var nominal = Math.Min(30_000, 100 * Math.Pow(2, attempt));
            for (var sample = 0; sample < 200; sample++)
            {
                var delay = PendingCompletions.Backoff(attempt).TotalMilliseconds;
                Assert.InRange(delay, nominal * 0.75, nominal);
            }
        }
    }

    [Fact]
    public void Later_retries_wait_longer_until_the_cap()
    {
        // With 25 % jitter at most, a doubled delay is always longer than the one before it.
        for (var attempt = 2; attempt <= 8; attempt++)
        {
            var shortest = Enumerable.Range(0, 200).Min(_ => PendingCompletions.Backoff(attempt));
            var longestBefore = Enumerable.Range(0, 200).Max(_ => PendingCompletions.Backoff(attempt - 1));
            Assert.True(shortest > longestBefore, $"attempt {attempt}: {shortest} is not longer than {longestBefore}");
        }

        Assert.True(PendingCompletions.Backoff(1000) <= TimeSpan.FromSeconds(30));
        Assert.True(PendingCompletions.Backoff(1000) >= TimeSpan.FromSeconds(22.5));
    }

    private static Task WaitUntilAsync(Func<bool> condition)
        => Polling.WaitUntilAsync(condition, TimeSpan.FromSeconds(5), "The condition did not come true within 5 s.");

    /// <summary>A <see cref="PendingCompletions"/> on a fake clock, with its metrics and logs collected.</summary>
    private sealed class PendingHarness : IAsyncDisposable
    {
        private readonly ServiceProvider _services = new ServiceCollection().AddMetrics().BuildServiceProvider();

        public PendingHarness()
        {
            var meters = _services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>();
            Deferred = new MetricCollector<long>(meters, UsageBillingMetrics.MeterName, "usagebilling.completions.deferred");
            Completions = new PendingCompletions(Time, new UsageBillingMetrics(meters), Logs);
        }

        public CountingTimeProvider Time { get; } = new(new DateTimeOffset(2026, 3, 10, 9, 0, 0, TimeSpan.Zero));

        public FakeLogger<PendingCompletions> Logs { get; } = new();

        public MetricCollector<long> Deferred { get; }

        public PendingCompletions Completions { get; }

        public Task StartAsync() => Completions.StartAsync(CancellationToken.None);

        /// <summary>Lets the loop reach its wait, then moves the clock.</summary>
        public async Task AdvanceAsync(TimeSpan by)
        {
            await Task.Delay(50);
            Time.Advance(by);
            await Task.Delay(50);
        }

        public async ValueTask DisposeAsync()
        {
            await Completions.StopAsync(CancellationToken.None);
            Completions.Dispose();
            Deferred.Dispose();
            await _services.DisposeAsync();
        }
    }

    /// <summary>A fake clock that counts how often it is read.</summary>
    private sealed class CountingTimeProvider(DateTimeOffset start) : FakeTimeProvider(start)
    {
        private int _reads;

        public int Reads => Volatile.Read(ref _reads);

        public override DateTimeOffset GetUtcNow()
        {
            Interlocked.Increment(ref _reads);
            return base.GetUtcNow();
        }
    }
}
