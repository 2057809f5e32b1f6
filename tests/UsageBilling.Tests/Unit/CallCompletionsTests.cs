using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;

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
    public async Task A_failed_batch_answers_its_callers_at_once_and_lands_later_exactly_once()
    {
        var store = new RecordingStore { FailuresLeft = 2 };
        var completions = new CallCompletions(store, _pending, TimeProvider.System, NullLogger<CallCompletions>.Instance);
        var landed = 0;

        var result = await completions.CompleteAsync(new CallCompletion("res_1", Money.FromUnits(1m), null), _ =>
        {
            Interlocked.Increment(ref landed);
            return ValueTask.CompletedTask;
        });

        Assert.Null(result);
        Assert.Equal(1, _pending.Count);
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (_pending.Count > 0 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(20);
        }

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
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (_pending.Count > 0 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(20);
        }

        Assert.Equal(0, _pending.Count);
    }

    private sealed class RecordingStore : ICallCompletionStore
    {
        private readonly object _lock = new();

        public TimeSpan Delay { get; init; }

        public int FailuresLeft { get; set; }

        public int ShortAnswersLeft { get; set; }

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
