using System.Data.Common;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace UsageBilling.LoadBenchmark;

/// <summary>What a subject's database kept after its host was killed under load (<c>--kill</c>).</summary>
internal static class KilledDatabase
{
    /// <summary>
    /// Charges in the ledger, charged usage records, and holds still active (the sweeper releases them later); and how
    /// many of the <paramref name="answered"/> 200s the load generator received have no charge (with
    /// <c>Credits:WaitForCharge</c> off, the calls whose charges were queued when the host died).
    /// </summary>
    public static async Task<string> CountAsync(SubjectBackend backend, string connectionString, long answered)
    {
        await using DbConnection connection = backend == SubjectBackend.Postgres ? new NpgsqlConnection(connectionString) : new SqliteConnection(connectionString);
        await connection.OpenAsync();
        var charges = await CountAsync(connection, $"SELECT COUNT(*) FROM billing_credit_ledger WHERE kind = {(int)LedgerEntryKind.Charge}");
        var records = await CountAsync(connection, "SELECT COUNT(*) FROM billing_usage_records WHERE outcome = 'charged'");
        var holds = await CountAsync(connection, $"SELECT COUNT(*) FROM billing_credit_reservations WHERE state = {(int)ReservationState.Active}");
        var verdict = charges == records ? "every charge has its usage record" : $"{Math.Abs(charges - records)} charges and records disagree";
        return $"{charges:N0} charges in the ledger, {records:N0} charged usage records ({verdict}), {holds:N0} holds of calls not completed; "
            + $"{answered:N0} answered 200, {Math.Max(0, answered - charges):N0} of them without a charge";
    }

    private static async Task<long> CountAsync(DbConnection connection, string sql)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        return Convert.ToInt64(await command.ExecuteScalarAsync(), System.Globalization.CultureInfo.InvariantCulture);
    }
}
