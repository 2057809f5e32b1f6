namespace UsageBilling.EntityFrameworkCore;

/// <summary>
/// A write waiting to share a transaction with others on a held SQLite connection
/// (<see cref="BillingDatabase{TContext}.WriteAsync"/>): what it runs, what it returned or threw there, and its caller's
/// answer once the transaction ended.
/// </summary>
internal sealed class SharedWrite(Func<BillingTransaction, CancellationToken, Task<object?>> write)
{
    public Func<BillingTransaction, CancellationToken, Task<object?>> Write { get; } = write;

    public TaskCompletionSource<object?> Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public object? Result { get; set; }

    public Exception? Error { get; set; }
}
