namespace UsageBilling;

/// <summary>
/// Calls answered in groups (group commit, <see cref="GroupWriter{T}"/>): each caller's item is queued, the group's
/// write answers every item of the group at once, and each caller gets its own item's answer, or the group's exception.
/// </summary>
/// <typeparam name="TItem">What a caller asks.</typeparam>
/// <typeparam name="TResult">What it is answered.</typeparam>
internal sealed class GroupCalls<TItem, TResult>
{
    private readonly Func<TItem[], Task<IReadOnlyList<TResult>>> _write;
    private readonly GroupWriter<Call> _writer;

    /// <param name="maxBatch">The most items written in one group.</param>
    /// <param name="write">Writes one group (at least one item) and returns one answer per item, in their order; it may throw.</param>
    public GroupCalls(int maxBatch, Func<TItem[], Task<IReadOnlyList<TResult>>> write)
    {
        _write = write;
        _writer = new GroupWriter<Call>(maxBatch, WriteAsync);
    }

    /// <summary>Queues <paramref name="item"/>; the task ends with its answer when its group was written, or with the group's exception.</summary>
    public Task<TResult> CallAsync(TItem item)
    {
        var call = new Call(item, new TaskCompletionSource<TResult>(TaskCreationOptions.RunContinuationsAsynchronously));
        _writer.Enqueue(call);
        return call.Done.Task;
    }

    private async Task WriteAsync(Call[] group)
    {
        try
        {
            var results = await _write(Array.ConvertAll(group, static c => c.Item)).ConfigureAwait(false);
            for (var i = 0; i < group.Length; i++)
            {
                group[i].Done.TrySetResult(results[i]);
            }
        }
        catch (Exception ex)
        {
            foreach (var call in group)
            {
                call.Done.TrySetException(ex);
            }
        }
    }

    private sealed record Call(TItem Item, TaskCompletionSource<TResult> Done);
}
