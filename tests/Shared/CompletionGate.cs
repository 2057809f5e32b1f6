using UsageBilling.Stores;

namespace UsageBilling.Tests.Shared;

/// <summary>Holds every completion batch until <see cref="Open"/>; <see cref="Entered"/> ends when the first batch reached the store.</summary>
internal sealed class CompletionGate
{
    private readonly TaskCompletionSource _open = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _entered = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public Task Entered => _entered.Task;

    public void Open() => _open.TrySetResult();

    public Task PassAsync()
    {
        _entered.TrySetResult();
        return _open.Task;
    }
}

/// <summary>A completion store whose batches pass <paramref name="gate"/> before <paramref name="inner"/> writes them.</summary>
internal sealed class GatedCompletionStore(ICallCompletionStore inner, CompletionGate gate) : ICallCompletionStore
{
    public async ValueTask<IReadOnlyList<CompletionResult>> CompleteAsync(IReadOnlyList<CallCompletion> completions, DateTimeOffset now, CancellationToken cancellationToken = default)
    {
        await gate.PassAsync();
        return await inner.CompleteAsync(completions, now, cancellationToken);
    }
}
