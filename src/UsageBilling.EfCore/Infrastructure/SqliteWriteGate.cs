using System.Collections.Concurrent;
using System.Data.Common;

namespace UsageBilling.EntityFrameworkCore;

/// <summary>
/// SQLite has one writer per database file. Writes from this process take turns here, so they queue in memory instead of
/// spinning on "database is locked"; writes from other processes still meet SQLite's busy timeout and the store's retry.
/// One gate per database file, shared by every store and every service provider in the process.
/// </summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001", Justification = "Gates live as long as the process; a semaphore without a wait handle holds no unmanaged resource.")]
internal sealed class SqliteWriteGate
{
    private static readonly ConcurrentDictionary<string, SqliteWriteGate> Gates = new(StringComparer.Ordinal);

    private readonly SemaphoreSlim _semaphore = new(1, 1);
    private volatile bool _prepared;

    private SqliteWriteGate()
    {
    }

    /// <summary>Whether <see cref="MarkPrepared"/> was called: the database was switched to write-ahead logging.</summary>
    public bool Prepared => _prepared;

    public static SqliteWriteGate For(DbConnection connection)
    {
        var dataSource = connection.DataSource;
        var inMemory = string.IsNullOrEmpty(dataSource) || dataSource.StartsWith(':')
            || connection.ConnectionString.Contains("Mode=Memory", StringComparison.OrdinalIgnoreCase);
        var key = inMemory ? connection.ConnectionString : Path.GetFullPath(dataSource);
        return Gates.GetOrAdd(key, static _ => new SqliteWriteGate());
    }

    public async ValueTask<Turn> EnterAsync(CancellationToken cancellationToken)
    {
        await _semaphore.WaitAsync(cancellationToken).ConfigureAwait(false);
        return new Turn(_semaphore);
    }

    public void MarkPrepared() => _prepared = true;

    /// <summary>Holds the gate until disposed.</summary>
    internal readonly struct Turn(SemaphoreSlim semaphore) : IDisposable
    {
        /// <summary>Whether this is a turn taken (not the default value).</summary>
        public bool Taken => semaphore is not null;

        public void Dispose() => semaphore?.Release();
    }
}
