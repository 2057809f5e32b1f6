using System.Collections.Concurrent;

namespace UsageBilling;

/// <summary>
/// Group commit: items are queued, and one writer at a time takes everything queued (up to a maximum) and writes it
/// as one batch. Under load many items share one write; a lone item is written at once, with no timer. The owner's
/// write answers each item's caller itself and must not throw.
/// </summary>
/// <typeparam name="T">What is queued.</typeparam>
internal sealed class GroupWriter<T>
{
    private readonly ConcurrentQueue<T> _queue = new();

    // The batch being gathered: only the one running writer touches it (_writing), so one list serves every batch.
    private readonly List<T> _batch = [];
    private readonly Func<T[], Task> _write;
    private readonly int _maxBatch;
    private int _writing;

    /// <param name="maxBatch">The most items written in one batch.</param>
    /// <param name="write">Writes one batch (at least one item) and answers its callers; it must not throw.</param>
    public GroupWriter(int maxBatch, Func<T[], Task> write)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxBatch, 1);
        _maxBatch = maxBatch;
        _write = write;
    }

    /// <summary>
    /// Queues <paramref name="item"/>; a writer takes it at once, or with the batch after the one being written. When no
    /// writer is running, this caller writes the first batch itself (until its first wait), so that a store that
    /// answers at once costs no hand-off between threads; the batches after it run on the thread pool.
    /// </summary>
    public void Enqueue(T item)
    {
        _queue.Enqueue(item);
        if (Interlocked.CompareExchange(ref _writing, 1, 0) == 0)
        {
            // This caller becomes the writer; the others wait for its batches.
            _ = WriteQueuedAsync();
        }
    }

    private async Task WriteQueuedAsync()
    {
        var batch = _batch;

        // Whether this still runs on the stack of the caller that started the writer: no write has waited yet.
        var onCaller = true;
        for (var written = 0; ; written++)
        {
            while (batch.Count < _maxBatch && _queue.TryDequeue(out var item))
            {
                batch.Add(item);
            }

            if (batch.Count == 0)
            {
                Volatile.Write(ref _writing, 0);

                // An item queued after the last look but before the flag was cleared found a writer: take it on.
                if (_queue.IsEmpty || Interlocked.CompareExchange(ref _writing, 1, 0) != 0)
                {
                    return;
                }

                continue;
            }

            if (onCaller && written > 0)
            {
                // The caller's own batch is written: give it back its thread, and write the rest on the thread pool.
                await Task.Yield();
                onCaller = false;
            }

            var write = _write([.. batch]);
            onCaller &= write.IsCompleted;
            await write.ConfigureAwait(false);
            batch.Clear();
        }
    }
}
