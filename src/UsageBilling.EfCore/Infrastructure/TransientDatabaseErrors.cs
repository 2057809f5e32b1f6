using System.Collections.Concurrent;
using System.Data.Common;
using System.Reflection;

namespace UsageBilling.EntityFrameworkCore;

/// <summary>Classifies database errors without referencing the providers' assemblies.</summary>
internal static class TransientDatabaseErrors
{
    private const int SqliteBusy = 5;
    private const int SqliteLocked = 6;
    private const int SqliteConstraintUnique = 2067;
    private const int SqliteConstraintPrimaryKey = 1555;

    private static readonly ConcurrentDictionary<(Type, string), PropertyInfo?> Properties = new();

    /// <summary>Whether the error means "run the whole transaction again" rather than "fail".</summary>
    public static bool IsRetryable(Exception exception, BillingProvider provider)
    {
        if (Find(exception) is not { } db)
        {
            return false;
        }

        return provider switch
        {
            // Another connection (another process: this one serializes its own writes) held the write lock for longer than the busy timeout.
            BillingProvider.Sqlite => SqliteCode(db, "SqliteErrorCode") is SqliteBusy or SqliteLocked,

            // serialization_failure, deadlock_detected: PostgreSQL rolled the transaction back and asks for it to be run again.
            BillingProvider.PostgreSql => db.SqlState is "40001" or "40P01",
            _ => false,
        };
    }

    /// <summary>Whether a write failed on a unique index or primary key (SQLite SQLITE_CONSTRAINT_UNIQUE/PRIMARYKEY, PostgreSQL 23505).</summary>
    public static bool IsUniqueViolation(Exception exception, BillingProvider provider)
    {
        if (Find(exception) is not { } db)
        {
            return false;
        }

        return provider switch
        {
            BillingProvider.Sqlite => SqliteCode(db, "SqliteExtendedErrorCode") is SqliteConstraintUnique or SqliteConstraintPrimaryKey,
            BillingProvider.PostgreSql => db.SqlState == "23505",
            _ => false,
        };
    }

    private static DbException? Find(Exception? exception)
    {
        for (; exception is not null; exception = exception.InnerException)
        {
            if (exception is DbException db)
            {
                return db;
            }
        }

        return null;
    }

    // Microsoft.Data.Sqlite's SqliteException keeps its codes in its own properties (DbException.ErrorCode is not set).
    private static int? SqliteCode(DbException exception, string property)
        => Properties.GetOrAdd((exception.GetType(), property), static key => key.Item1.GetProperty(key.Item2, typeof(int)))
            ?.GetValue(exception) as int?;
}
