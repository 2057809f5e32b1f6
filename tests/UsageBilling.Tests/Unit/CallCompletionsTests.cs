using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Logging.Testing;
using NSubstitute;

namespace UsageBilling.Tests.Unit;

/// <summary>The completion queue: group commit, one result per call, and what happens when a batch fails.</summary>
public sealed class CallCompletionsTests : IAsyncLifetime
{
    private readonly ServiceProvider _services = new ServiceCollection().AddMetrics().BuildServiceProvider();
    private readonly PendingCompletions _pending;

    public CallCompletionsTests()
        => _pending = new(TimeProvider.System, new UsageBillingMetrics(_services.GetRequiredService<IMeterFactory>()), NullLogger<PendingCompletions>.Instance);

    public Task InitializeAsync() => _pending.StartAsync(CancellationToken.None);

    public async Task DisposeAsync()
    {
        await _pending.StopAsync(CancellationToken.None);
        _pending.Dispose();
        await _services.DisposeAsync();
    }

    [Fact]
    public async Task Concurrent_completions_share_batches_and_each_gets_its_own_result_and_lands_once()
    {
        var store = new RecordingStore { Delay = TimeSpan.FromMilliseconds(5) };
        var completions = new CallCompletions(store, _pending, TimeProvider.System, NullLogger<CallCompletions>.Instance);
        var landed = new ConcurrentDictionary<string, int>();

        var results = await Task.WhenAll(Enumerable.Range(0, 300).Select(i => Task.Run(() => completions.CompleteAsync(
            new CallCompletion("res_" + i, i % 3 == 0 ? null : Money.FromUnits(i), null),
            result =>
            {
                landed.AddOrUpdate("res_" + i, 1, (_, n) => n + 1);
                return ValueTask.CompletedTask;
            })))).WaitAsync(TimeSpan.FromSeconds(30)); // a completion left in the queue without a writer never ends

        // The store answers each reservation with a status of its own; every caller gets the one for its call.
        for (var i = 0; i < 300; i++)
        {
            Assert.Equal(RecordingStore.StatusOf("res_" + i), results[i]!.Value.Status);
        }

        Assert.Equal(300, store.Written.Count);
        Assert.Equal(300, store.Written.Distinct().Count());
        Assert.True(store.Batches < 300, $"{store.Batches} batches for 300 concurrent calls: nothing was grouped");
        Assert.True(store.LargestBatch <= CallCompletions.MaxBatch);
        Assert.Equal(300, landed.Count);
        Assert.All(landed.Values, n => Assert.Equal(1, n));
    }

    [Fact]
    public async Task The_default_store_writes_each_completion_at_once_not_behind_one_that_is_still_being_written()
    {
        // The default store settles completion by completion through the credit store; here the first settle hangs.
        var firstSettle = new TaskCompletionSource<SettleResult>(TaskCreationOptions.RunContinuationsAsynchronously);
        var credits = Substitute.For<ICreditStore>();
#pragma warning disable CA2012 // NSubstitute's set-up call: the ValueTask it returns is only configured, never awaited.
        credits.SettleAsync(Arg.Any<string>(), Arg.Any<Money>(), Arg.Any<DateTimeOffset>(), Arg.Any<CancellationToken>())
            .Returns(call => call.ArgAt<string>(0) == "res_first"
                ? new ValueTask<SettleResult>(firstSettle.Task)
                : ValueTask.FromResult(new SettleResult(SettleStatus.Settled, null)));
#pragma warning restore CA2012
        var metrics = new UsageBillingMetrics(_services.GetRequiredService<IMeterFactory>());
        var usageLog = new UsageLogQueue(Microsoft.Extensions.Options.Options.Create(new UsageBillingOptions()), Substitute.For<IUsageStore>(), metrics,
            NullLogger<UsageLogQueue>.Instance);
        var completions = new CallCompletions(new StoreCallCompletions(credits, Substitute.For<ICounterStore>(), usageLog), _pending, TimeProvider.System, NullLogger<CallCompletions>.Instance);

        var first = completions.CompleteAsync(new CallCompletion("res_first", Money.FromUnits(1m), null), null);
        Assert.False(first.IsCompleted);

        // With one writer these would wait for the first; written each by its caller, they are done when queued.
        var others = Enumerable.Range(0, 10).Select(i => completions.CompleteAsync(new CallCompletion("res_" + i, Money.FromUnits(1m), null), null)).ToArray();
        Assert.All(others, t => Assert.True(t.IsCompletedSuccessfully, "a completion waited behind the one being written"));
        Assert.All(others, t => Assert.Equal(CompletionStatus.Completed, Assert.IsType<CompletionResult>(t.Result).Status));
        Assert.Equal(1, completions.Unwritten);

        firstSettle.SetResult(new SettleResult(SettleStatus.Settled, null));
        Assert.Equal(CompletionStatus.Completed, (await first.WaitAsync(TimeSpan.FromSeconds(10)))!.Value.Status);
        Assert.Equal(0, completions.Unwritten);
    }

    [Fact]
    public async Task Each_batch_is_one_timed_store_call_named_completions_write()
    {
        using var durations = new MetricCollector<double>(_services.GetRequiredService<IMeterFactory>(), UsageBillingMetrics.MeterName, "usagebilling.store.duration");
        var completions = new CallCompletions(new RecordingStore(), _pending, TimeProvider.System, NullLogger<CallCompletions>.Instance,
            new UsageBillingMetrics(_services.GetRequiredService<IMeterFactory>()));

        await completions.CompleteAsync(new CallCompletion("res_1", Money.FromUnits(1m), null), null).WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal(["completions.write"], durations.GetMeasurementSnapshot().Select(m => (string)m.Tags["usagebilling.store.operation"]!));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)] // a store that times out with a cancellation: nothing cancels a completion, so it is a failure like any other
    public async Task A_failed_batch_answers_its_callers_at_once_and_lands_later_exactly_once(bool cancelled)
    {
        var store = cancelled ? new RecordingStore { CancellationsLeft = 1 } : new RecordingStore { FailuresLeft = 2 };
        var completions = new CallCompletions(store, _pending, TimeProvider.System, NullLogger<CallCompletions>.Instance);
        var landed = 0;

        var result = await completions.CompleteAsync(new CallCompletion("res_1", Money.FromUnits(1m), null), _ =>
        {
            Interlocked.Increment(ref landed);
            return ValueTask.CompletedTask;
        });

        Assert.Null(result);
        Assert.Equal(1, _pending.Count);
        await RetriedAsync();

        Assert.Equal(0, _pending.Count);
        Assert.Equal(1, landed);
        Assert.Equal(["res_1"], store.Written);

        // The queue goes on: the next call is written at once.
        Assert.NotNull(await completions.CompleteAsync(new CallCompletion("res_2", null, null), null));
    }

    [Fact]
    public async Task A_store_answering_the_wrong_number_of_results_is_retried_not_believed()
    {
        var store = new RecordingStore { ShortAnswersLeft = 1 };
        var completions = new CallCompletions(store, _pending, TimeProvider.System, NullLogger<CallCompletions>.Instance);

        Assert.Null(await completions.CompleteAsync(new CallCompletion("res_1", Money.FromUnits(1m), null), null));
        await RetriedAsync();

        Assert.Equal(0, _pending.Count);
    }

    [Fact]
    public async Task A_failed_batch_is_logged_by_what_it_completes_and_a_wrong_answer_by_its_count()
    {
        var logs = new FakeLogger<PendingCompletions>();
        using var pending = new PendingCompletions(TimeProvider.System, new UsageBillingMetrics(_services.GetRequiredService<IMeterFactory>()), logs);
        var gate = new TaskCompletionSource();
        var store = new GatedFailingStore(gate.Task);
        var completions = new CallCompletions(store, pending, TimeProvider.System, NullLogger<CallCompletions>.Instance);

        // The first call is written alone (and held at the gate); three more queue behind it and form one batch.
        var first = completions.CompleteAsync(new CallCompletion("res_a", Money.FromUnits(1m), null), null);
        var rest = new[] { "res_b", "res_c", "res_d" }.Select(id => completions.CompleteAsync(new CallCompletion(id, Money.FromUnits(1m), null), null)).ToArray();
        gate.SetResult();
        Assert.Null(await first);
        Assert.All(await Task.WhenAll(rest), Assert.Null);

        var deferred = logs.Collector.GetSnapshot().Where(r => r.Id.Name == "CompletionDeferred").Select(r => r.Message).ToList();
        Assert.Equal(2, deferred.Count);
        Assert.Contains("'complete res_a'", deferred[0], StringComparison.Ordinal);
        Assert.Contains("'complete 3 calls (res_b …)'", deferred[1], StringComparison.Ordinal);
        Assert.Equal(2, pending.Count); // two writes wait to be retried: the lone call's and the batch's

        var wrongCount = new CallCompletions(new RecordingStore { ShortAnswersLeft = 1 }, pending, TimeProvider.System, NullLogger<CallCompletions>.Instance);
        Assert.Null(await wrongCount.CompleteAsync(new CallCompletion("res_e", Money.FromUnits(1m), null), null));
        var refused = logs.Collector.GetSnapshot().Last(r => r.Id.Name == "CompletionDeferred");
        Assert.Contains("RecordingStore returned 0 results for 1 completions", refused.Exception!.Message, StringComparison.Ordinal);
    }

    /// <summary>Waits (10 s at most) until no write is left to retry.</summary>
    private async Task RetriedAsync()
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (_pending.Count > 0 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(20);
        }
    }

    /// <summary>Fails every batch; the first one only once the gate opens.</summary>
    private sealed class GatedFailingStore(Task gate) : ICallCompletionStore
    {
        public async ValueTask<IReadOnlyList<CompletionResult>> CompleteAsync(IReadOnlyList<CallCompletion> completions, DateTimeOffset now, CancellationToken cancellationToken = default)
        {
            await gate;
            throw new InvalidOperationException("The store is down.");
        }
    }

    private sealed class RecordingStore : ICallCompletionStore
    {
        private readonly object _lock = new();

        public TimeSpan Delay { get; init; }

        public int FailuresLeft { get; set; }

        public int ShortAnswersLeft { get; set; }

        public int CancellationsLeft { get; set; }

        public List<string> Written { get; } = [];

        public int Batches { get; private set; }

        public int LargestBatch { get; private set; }

        public static CompletionStatus StatusOf(string reservationId) => (CompletionStatus)((reservationId.GetHashCode(StringComparison.Ordinal) & 0x7fffffff) % 3);

        public async ValueTask<IReadOnlyList<CompletionResult>> CompleteAsync(IReadOnlyList<CallCompletion> completions, DateTimeOffset now, CancellationToken cancellationToken = default)
        {
            await Task.Delay(Delay, cancellationToken);
            lock (_lock)
            {
                if (FailuresLeft > 0)
                {
                    FailuresLeft--;
                    throw new InvalidOperationException("The store is down.");
                }

                if (CancellationsLeft > 0)
                {
                    CancellationsLeft--;
                    throw new OperationCanceledException("The store timed out.");
                }

                if (ShortAnswersLeft > 0)
                {
                    ShortAnswersLeft--;
                    return [];
                }

                Batches++;
                LargestBatch = Math.Max(LargestBatch, completions.Count);
                Written.AddRange(completions.Select(c => c.ReservationId));
                return completions.Select(c => new CompletionResult(StatusOf(c.ReservationId))).ToList();
            }
        }
    }
}
