using Microsoft.EntityFrameworkCore;

namespace UsageBilling.EntityFrameworkCore;

/// <summary>
/// The context, and its open connection, that a group writer keeps between its writes (admissions, completions): under
/// load one group follows another every few milliseconds, and taking a pooled connection for each would cost the pool's
/// reset round trip (<c>DISCARD ALL</c> on PostgreSQL), a new context, and statements prepared again on whichever
/// connection the pool hands out next. Held, the connection keeps its prepared statements, and PostgreSQL's work for
/// the groups stays on one server process. It is given back — the context disposed, the connection returned to the
/// pool — after <see cref="IdleRelease"/> without a write, after any failed write (the connection may be broken; the
/// next write takes a new one), and when the store is disposed.
/// </summary>
/// <remarks>
/// One writer at a time is the common case (the group writers write one group at a time). A second concurrent write
/// finds nothing held and takes a pooled context of its own, as every other store operation does.
/// </remarks>
internal sealed class HeldContext<TContext> : IAsyncDisposable, IDisposable where TContext : DbContext
{
    /// <summary>How long a held context may go without a write before it is given back.</summary>
    internal static readonly TimeSpan IdleRelease = TimeSpan.FromSeconds(1);

    private readonly Timer _idle;
    private readonly System.Collections.Concurrent.ConcurrentQueue<SharedWrite> _waiting = new();
    private Kept? _kept;
    private bool _disposed;
    private int _sharing;

    public HeldContext() => _idle = new Timer(static s => ((HeldContext<TContext>)s!).ReleaseIdle(), this, Timeout.Infinite, Timeout.Infinite);

    /// <summary>Whether a context is held now (for tests).</summary>
    internal bool IsHolding => Volatile.Read(ref _kept) is not null;

    /// <summary>Takes the held context, if there is one: the caller owns it until it gives it back with <see cref="Return"/>.</summary>
    public BillingDatabase<TContext>.ContextLease? Take() => Interlocked.Exchange(ref _kept, null)?.Lease;

    /// <summary>
    /// Keeps <paramref name="lease"/> for the next write, after a write that succeeded, and sets the idle timer to
    /// <see cref="IdleRelease"/> from now. Returns false when another one is already held or the holder was disposed:
    /// the caller disposes <paramref name="lease"/> itself.
    /// </summary>
    public bool Return(BillingDatabase<TContext>.ContextLease lease)
    {
        if (Volatile.Read(ref _disposed) || Interlocked.CompareExchange(ref _kept, new Kept(lease), null) is not null)
        {
            return false;
        }

        try
        {
            _idle.Change(IdleRelease, Timeout.InfiniteTimeSpan);
        }
        catch (ObjectDisposedException)
        {
            // Disposed meanwhile: handled below.
        }

        // Disposed meanwhile: the disposal may have looked before this one was kept.
        return !Volatile.Read(ref _disposed) || Take() is null;
    }

    /// <summary>
    /// Queues <paramref name="write"/> to share a transaction with the writes queued with it. Returns true when the
    /// caller is to write what is queued (<see cref="TakeNext"/>, until it answers none): nobody else is.
    /// </summary>
    internal bool Wait(SharedWrite write)
    {
        _waiting.Enqueue(write);
        return Interlocked.CompareExchange(ref _sharing, 1, 0) == 0;
    }

    /// <summary>
    /// The next queued write for the writer to start a transaction with; null when none is queued, and then the caller
    /// no longer writes for the others (unless a write queued meanwhile makes it the writer again: then it gets that one).
    /// </summary>
    internal SharedWrite? TakeNext()
    {
        while (true)
        {
            if (_waiting.TryDequeue(out var write))
            {
                return write;
            }

            Volatile.Write(ref _sharing, 0);
            if (_waiting.IsEmpty || Interlocked.CompareExchange(ref _sharing, 1, 0) != 0)
            {
                return null;
            }
        }
    }

    /// <summary>A write queued while a transaction is open, to join it; null when none is.</summary>
    internal SharedWrite? TakeQueued() => _waiting.TryDequeue(out var write) ? write : null;

    public ValueTask DisposeAsync() => Close() is { } lease ? lease.DisposeAsync() : default;

    /// <summary>The same for a container disposed synchronously (a singleton store must be disposable both ways).</summary>
    public void Dispose() => Close()?.Dispose();

    private BillingDatabase<TContext>.ContextLease? Close()
    {
        Volatile.Write(ref _disposed, true);
        _idle.Dispose();
        return Take();
    }

    // The timer fires IdleRelease after the last write (each write sets it again). A write that starts meanwhile finds
    // the context taken and opens a new one; either way one of them owns it.
    private void ReleaseIdle()
    {
        if (Take() is { } lease)
        {
            _ = lease.DisposeAsync().AsTask();
        }
    }

    /// <summary>A box, so that the lease (a struct) can be exchanged atomically.</summary>
    private sealed record Kept(BillingDatabase<TContext>.ContextLease Lease);
}

/// <summary>The group writers that keep a context between their groups (<see cref="BillingDatabase{TContext}.GroupWriterContextAsync"/>).</summary>
internal enum GroupWriterRole
{
    /// <summary>The admission of metered calls (<see cref="EfCoreCallAdmissionStore{TContext}"/>).</summary>
    Admissions,

    /// <summary>The completion of metered calls (<see cref="EfCoreCallCompletionStore{TContext}"/>).</summary>
    Completions,
}
