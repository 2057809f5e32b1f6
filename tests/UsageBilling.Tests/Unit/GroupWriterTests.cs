using System.Collections.Concurrent;
using UsageBilling.Tests.Shared;

namespace UsageBilling.Tests.Unit;

/// <summary>The group-commit loop under the admission and completion queues: batching, no item lost, and whose thread writes.</summary>
public sealed class GroupWriterTests
{
    [Fact]
    public void A_batch_must_hold_at_least_one_item()
        => Assert.Throws<ArgumentOutOfRangeException>("maxBatch", () => new GroupWriter<int>(0, _ => Task.CompletedTask));

    [Fact]
    public void A_lone_item_whose_write_does_not_wait_is_written_on_the_callers_thread_before_Enqueue_returns()
    {
        var written = new List<int>();
        var writerThread = 0;
        var writer = new GroupWriter<int>(8, batch =>
        {
            written.AddRange(batch);
            Volatile.Write(ref writerThread, Environment.CurrentManagedThreadId);
            return Task.CompletedTask;
        });

        writer.Enqueue(1);

        // No hand-off to another thread: a store that answers at once costs the caller nothing more. (Were it handed
        // off, this thread, waiting here, could not be the one that wrote it.)
        Assert.True(SpinWait.SpinUntil(() => Volatile.Read(ref writerThread) != 0, TimeSpan.FromSeconds(10)));
        Assert.Equal(Environment.CurrentManagedThreadId, writerThread);
        Assert.Equal([1], written);
    }

    [Fact]
    public void A_writer_that_went_idle_writes_the_next_item_too()
    {
        var batches = new List<int[]>();
        var writer = new GroupWriter<int>(8, batch =>
        {
            batches.Add(batch);
            return Task.CompletedTask;
        });

        writer.Enqueue(1);
        writer.Enqueue(2);

        // Each found no writer running (the one before had emptied the queue and stopped) and wrote its own batch.
        Assert.Equal([[1], [2]], batches);
    }

    [Fact]
    public async Task Items_queued_while_a_write_waits_are_written_together_in_order_each_once()
    {
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var batches = new ConcurrentQueue<int[]>();
        var writer = new GroupWriter<int>(16, async batch =>
        {
            batches.Enqueue(batch);
            if (batch[0] == 0)
            {
                await gate.Task;
            }
        });

        writer.Enqueue(0);
        for (var i = 1; i <= 100; i++)
        {
            writer.Enqueue(i);
        }

        gate.SetResult();
        await WaitUntilAsync(() => batches.Sum(b => b.Length) == 101);

        var all = batches.ToArray();
        Assert.Equal([0], all[0]);
        Assert.Equal(Enumerable.Range(0, 101), all.SelectMany(b => b));
        Assert.All(all, b => Assert.InRange(b.Length, 1, 16));
        Assert.Equal(1 + 100 / 16 + 1, all.Length);
    }

    [Fact]
    public async Task After_its_own_batch_the_caller_gets_its_thread_back_and_later_batches_run_elsewhere()
    {
        var gate = new ManualResetEventSlim();
        var secondSawGateOpen = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        GroupWriter<string>? writer = null;
        writer = new GroupWriter<string>(8, batch =>
        {
            if (batch[0] == "first")
            {
                // Another caller arrives while the first batch is written.
                writer!.Enqueue("second");
            }
            else
            {
                // Written on the caller's thread, this would block the caller's Enqueue until the timeout.
                secondSawGateOpen.SetResult(gate.Wait(TimeSpan.FromSeconds(5)));
            }

            return Task.CompletedTask;
        });

        writer.Enqueue("first");
        gate.Set();

        Assert.True(await secondSawGateOpen.Task.WaitAsync(TimeSpan.FromSeconds(30)), "the second batch was written on the first caller's thread");
    }

    private static Task WaitUntilAsync(Func<bool> condition)
        => Polling.WaitUntilAsync(condition, TimeSpan.FromSeconds(5), "The condition did not come true within 5 s.");
}
