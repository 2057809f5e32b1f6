namespace UsageBilling.EntityFrameworkCore;

/// <summary>Options of the Entity Framework Core stores.</summary>
public sealed class UsageBillingEntityFrameworkCoreOptions
{
    /// <summary>
    /// Whether to create the database and its tables at start-up when they do not exist
    /// (<c>Database.EnsureCreated()</c>). Meant for SQLite samples and development: it creates every table of the
    /// context and never changes an existing schema. In production, create the schema with migrations or with the
    /// scripts shipped in the package's <c>Schema</c> folder. Default <see langword="false"/>.
    /// </summary>
    public bool CreateDatabaseOnStartup { get; set; }

    /// <summary>
    /// SQLite: whether every commit waits until the write-ahead log is flushed to disk (SQLite's default,
    /// <c>synchronous=FULL</c>). Default <see langword="true"/>: a charge the caller was answered for survives a power
    /// loss. <see langword="false"/> sets <c>synchronous=NORMAL</c> on every write, SQLite's recommended setting in
    /// write-ahead-log mode: a commit costs no disk flush and still survives a crash of the process (a <c>kill -9</c>),
    /// but a power loss or an operating-system crash may lose the transactions committed since the last checkpoint
    /// (never corrupting the file) — calls answered and then not charged. The load benchmark measured about 5 % more
    /// metered calls per second with <see langword="false"/>. Has no effect on PostgreSQL.
    /// </summary>
    public bool SqliteFlushEveryCommit { get; set; } = true;

    /// <summary>How often expired rate-limit counters are deleted (in the background, in batches). Default 1 minute.</summary>
    public TimeSpan ExpiredCounterCleanupInterval { get; set; } = TimeSpan.FromMinutes(1);
}
