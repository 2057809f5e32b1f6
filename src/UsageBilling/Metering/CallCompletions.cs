using Microsoft.Extensions.Logging;

namespace UsageBilling;

/// <summary>
/// The one completion path of metered calls (group commit, <see cref="GroupWriter{T}"/>). Every settle or release, its
/// usage record and its counter corrections are queued here; one writer at a time takes everything queued (up to
/// <see cref="MaxBatch"/>) and hands it to <see cref="ICallCompletionStore"/> as one batch, so that under load many calls share one transaction,
/// and a lone call is written at once (no timer). By default a caller waits for the first write of its batch: its request
/// ends after its charge and record are committed; with <see cref="CreditOptions.WaitForCharge"/> off it ends once the
/// completion is queued, while fewer than <see cref="MaxUnwritten"/> are (<see cref="MayRunAhead"/>). A batch that
/// fails is retried by <see cref="PendingCompletions"/> until it lands (the callers are answered meanwhile, their
/// holds keeping the credit), and what a landed completion means — metrics, alerts — runs when it lands. Disposing
/// (at shutdown, after the server stopped) waits for the completions still queued or being written. The default store
/// (<see cref="StoreCallCompletions"/>) writes completion by completion through <see cref="ICreditStore"/>, so a batch
/// saves it nothing and one writer would only queue each completion behind the others: its completions are written at
/// once, each by its own caller, concurrently.
/// </summary>
internal sealed partial class CallCompletions : IAsyncDisposable
{
    /// <summary>The most completions written in one batch.</summary>
    internal const int MaxBatch = 256;

    /// <summary>
    /// The most completions queued or being written whose callers did not wait for them: one batch being written and
    /// one gathering. This bounds what a process crash can lose when requests do not wait for their charge (the 512
    /// that <see cref="CreditOptions.WaitForCharge"/> documents).
    /// </summary>
    internal const int MaxUnwritten = 2 * MaxBatch;

    /// <summary>How long disposing waits for the completions still queued or being written.</summary>
    internal static readonly TimeSpan DrainTimeout = TimeSpan.FromSeconds(30);

    private readonly ICallCompletionStore _store;
    private readonly PendingCompletions _pending;
    private readonly TimeProvider _timeProvider;
    private readonly ILogger<CallCompletions> _logger;
    private readonly UsageBillingMetrics? _metrics;
    private readonly GroupWriter<Queued>? _writer;
    private int _unwritten;
    private TaskCompletionSource? _drained;

    public CallCompletions(ICallCompletionStore store, PendingCompletions pending, TimeProvider timeProvider, ILogger<CallCompletions> logger, UsageBillingMetrics? metrics = null)
    {
        _metrics = metrics;
        _store = store;
        _pending = pending;
        _timeProvider = timeProvider;
        _logger = logger;
        _writer = store is StoreCallCompletions ? null : new GroupWriter<Queued>(MaxBatch, WriteAsync);
    }

    /// <summary>
    /// Queues <paramref name="completion"/>. The task ends when its batch was written (with its result), or failed
    /// once (with <see langword="null"/>: the batch is retried until it lands). <paramref name="landed"/> runs once,
    /// when the completion lands, now or on a retry; it must not throw.
    /// </summary>
    public Task<CompletionResult?> CompleteAsync(CallCompletion completion, Func<CompletionResult, ValueTask>? landed)
    {
        var queued = new Queued(completion, landed, new TaskCompletionSource<CompletionResult?>(TaskCreationOptions.RunContinuationsAsynchronously));
        Interlocked.Increment(ref _unwritten);
        if (_writer is null)
        {
            // Written now, on this caller's stack until the store first waits; WriteAsync answers it and never throws.
            _ = WriteAsync([queued]);
        }
        else
        {
            _writer.Enqueue(queued);
        }

        return queued.Done.Task;
    }

    /// <summary>How many completions are queued or being written (their first write has not ended).</summary>
    public int Unwritten => Volatile.Read(ref _unwritten);

    /// <summary>Whether a caller may leave before its completion is written: fewer than <see cref="MaxUnwritten"/> are queued or being written.</summary>
    public bool MayRunAhead => Unwritten <= MaxUnwritten;

    /// <summary>Waits, up to <see cref="DrainTimeout"/>, until every completion queued so far was written once (or deferred for retry).</summary>
    public async ValueTask DisposeAsync()
    {
        var drained = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Volatile.Write(ref _drained, drained);
        if (Unwritten == 0)
        {
            return;
        }

        try
        {
            await drained.Task.WaitAsync(DrainTimeout).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            Log.NotDrained(_logger, Unwritten, DrainTimeout);
        }
    }

    private async Task WriteAsync(Queued[] batch)
    {
        var completions = Array.ConvertAll(batch, static q => q.Completion);
        var now = _timeProvider.GetUtcNow();
        IReadOnlyList<CompletionResult>? results = null;
        try
        {
            results = await WriteOnceAsync(batch, completions, now, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            // Retried until it lands. An OperationCanceledException too: nothing cancels a completion (the store was
            // given no token to honour), so a store that throws it timed out.
            Defer(batch, completions, now, ex);
        }

        for (var i = 0; i < batch.Length; i++)
        {
            batch[i].Done.TrySetResult(results?[i]);
        }

        if (Interlocked.Add(ref _unwritten, -batch.Length) == 0)
        {
            Volatile.Read(ref _drained)?.TrySetResult();
        }
    }

    /// <summary>Writes the batch once and runs what its landing means; throws what the store threw.</summary>
    private async ValueTask<IReadOnlyList<CompletionResult>> WriteOnceAsync(Queued[] batch, CallCompletion[] completions, DateTimeOffset now, CancellationToken cancellationToken)
    {
        using var timing = _metrics?.StoreCall("completions.write");
        var written = await _store.CompleteAsync(completions, now, cancellationToken).ConfigureAwait(false);
        if (written.Count != completions.Length)
        {
            throw new InvalidOperationException($"{_store.GetType().Name} returned {written.Count} results for {completions.Length} completions.");
        }

        await LandedAsync(batch, written).ConfigureAwait(false);
        return written;
    }

    /// <summary>Hands a batch that failed to <see cref="PendingCompletions"/>; its description and retry are made only here, on failure.</summary>
    private void Defer(Queued[] batch, CallCompletion[] completions, DateTimeOffset now, Exception error)
        => _pending.Defer(Describe(completions), async ct => await WriteOnceAsync(batch, completions, now, ct).ConfigureAwait(false), error);

    private async ValueTask LandedAsync(Queued[] batch, IReadOnlyList<CompletionResult> results)
    {
        for (var i = 0; i < batch.Length; i++)
        {
            if (batch[i].Landed is not { } landed)
            {
                continue;
            }

            try
            {
                await landed(results[i]).ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                // What a landed completion means (metrics, alerts) never sends its batch round again.
                Log.LandedFailed(_logger, ex, batch[i].Completion.ReservationId);
            }
        }
    }

    private static string Describe(CallCompletion[] completions) => completions.Length == 1
        ? "complete " + completions[0].ReservationId
        : $"complete {completions.Length} calls ({completions[0].ReservationId} …)";

    private sealed record Queued(CallCompletion Completion, Func<CompletionResult, ValueTask>? Landed, TaskCompletionSource<CompletionResult?> Done);

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Warning, "Handling the completion of reservation {ReservationId} after it landed failed.", EventName = "CompletionLandedFailed")]
        public static partial void LandedFailed(ILogger logger, Exception exception, string reservationId);

        [LoggerMessage(2, LogLevel.Error, "{Count} call completions were still unwritten after waiting {Timeout} at shutdown; their holds are released when they expire.", EventName = "CompletionsNotDrained")]
        public static partial void NotDrained(ILogger logger, int count, TimeSpan timeout);
    }
}
