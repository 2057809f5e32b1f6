using System.Diagnostics;
using Npgsql;

namespace UsageBilling.LoadBenchmark;

/// <summary>
/// The PostgreSQL server named by <c>USAGEBILLING_POSTGRES</c>: a fresh database per subject (dropped afterwards), the
/// server settings that bound write throughput, and a sampler of what the subject's backends wait on.
/// </summary>
internal sealed class PostgresServer(string connectionString, int poolSize)
{
    public const string Variable = "USAGEBILLING_POSTGRES";

    public static PostgresServer? FromEnvironment(int poolSize)
        => Environment.GetEnvironmentVariable(Variable) is { Length: > 0 } value ? new PostgresServer(value, poolSize) : null;

    /// <summary>Creates an empty database; its connection string has a pool as large as the number of callers.</summary>
    public async Task<string> CreateDatabaseAsync(string name)
    {
        await using var admin = new NpgsqlConnection(connectionString);
        await admin.OpenAsync();
        await using var create = new NpgsqlCommand($"CREATE DATABASE \"{name}\"", admin);
        await create.ExecuteNonQueryAsync();
        return new NpgsqlConnectionStringBuilder(connectionString) { Database = name, MaxPoolSize = poolSize, Timeout = 60 }.ConnectionString;
    }

    /// <summary>
    /// Drops the database once the host has exited. A plain <c>DROP DATABASE</c> stops an autovacuum worker still in it
    /// (which <c>WITH (FORCE)</c> may not: it is not the role's process); it is retried while a closing connection lingers.
    /// </summary>
    public async Task DropDatabaseAsync(string name)
    {
        NpgsqlConnection.ClearAllPools();
        await using var admin = new NpgsqlConnection(connectionString);
        await admin.OpenAsync();
        for (var attempt = 1; ; attempt++)
        {
            await using var drop = new NpgsqlCommand($"DROP DATABASE IF EXISTS \"{name}\"", admin);
            try
            {
                await drop.ExecuteNonQueryAsync();
                return;
            }
            catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.ObjectInUse && attempt < 10)
            {
                await Task.Delay(TimeSpan.FromSeconds(1));
            }
        }
    }

    public async Task<string> DescribeAsync()
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(
            "SELECT 'PostgreSQL ' || current_setting('server_version') || ', synchronous_commit=' || current_setting('synchronous_commit') || ', fsync=' || current_setting('fsync') || ', max_connections=' || current_setting('max_connections')",
            connection);
        return (string)(await command.ExecuteScalarAsync())!;
    }

    /// <summary>
    /// Samples <c>pg_stat_activity</c> of one database every 50 ms until cancelled: how many of its backends were running
    /// or waiting, and on what (for example <c>Lock:transactionid</c> = a row lock held by another transaction,
    /// <c>IO:WALSync</c> / <c>LWLock:WALWrite</c> = the commit's flush, <c>Client:ClientRead</c> = idle in a transaction,
    /// waiting on the app).
    /// </summary>
    public async Task<WaitProfile> SampleWaitsAsync(string database, CancellationToken cancellationToken)
    {
        var profile = new WaitProfile();
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync(CancellationToken.None);
        await using var command = new NpgsqlCommand(
            "SELECT state, coalesce(wait_event_type || ':' || wait_event, 'CPU') FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid() AND state <> 'idle'",
            connection);
        command.Parameters.Add(new NpgsqlParameter { Value = database });
        try
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                await using (var reader = await command.ExecuteReaderAsync(CancellationToken.None))
                {
                    while (await reader.ReadAsync(CancellationToken.None))
                    {
                        var state = reader.GetString(0);
                        profile.Add(state == "active" ? reader.GetString(1) : state);
                    }
                }

                profile.Samples++;
                await Task.Delay(50, cancellationToken);
            }
        }
        catch (OperationCanceledException)
        {
        }

        return profile;
    }

    /// <summary>
    /// The baseline for the hot account: <paramref name="callers"/> loops, each on its own open connection, each running
    /// one prepared autocommit <c>UPDATE balance SET balance = balance - @x WHERE id = 1 AND balance &gt;= @x</c> on one row.
    /// </summary>
    public async Task<(LoadResult Result, WaitProfile Waits)> RunPlainUpdateAsync(string database, string databaseConnectionString, int callers,
        TimeSpan warmUp, TimeSpan duration)
    {
        await using (var setup = new NpgsqlConnection(databaseConnectionString))
        {
            await setup.OpenAsync();
            await using var create = new NpgsqlCommand(
                "CREATE TABLE balance (id integer PRIMARY KEY, balance bigint NOT NULL); INSERT INTO balance VALUES (1, 9000000000000000000)", setup);
            await create.ExecuteNonQueryAsync();
        }

        var begin = Stopwatch.GetTimestamp();
        var measureStart = begin + (long)(warmUp.TotalSeconds * Stopwatch.Frequency);
        var measureEnd = measureStart + (long)(duration.TotalSeconds * Stopwatch.Frequency);
        var loops = Enumerable.Range(0, callers).Select(_ => Task.Run(async () =>
        {
            var latencies = new List<long>(4096);
            var refused = 0;
            await using var connection = new NpgsqlConnection(databaseConnectionString);
            await connection.OpenAsync();
            await using var update = new NpgsqlCommand("UPDATE balance SET balance = balance - $1 WHERE id = 1 AND balance >= $1", connection);
            update.Parameters.Add(new NpgsqlParameter<long> { TypedValue = 1_000 });
            await update.PrepareAsync();
            while (true)
            {
                var start = Stopwatch.GetTimestamp();
                if (start >= measureEnd)
                {
                    break;
                }

                var rows = await update.ExecuteNonQueryAsync();
                if (start >= measureStart)
                {
                    if (rows == 1)
                    {
                        latencies.Add(Stopwatch.GetTimestamp() - start);
                    }
                    else
                    {
                        refused++;
                    }
                }
            }

            return (latencies, refused);
        })).ToArray();

        await Task.Delay(TimeSpan.FromSeconds(Math.Max(0, (measureStart - Stopwatch.GetTimestamp()) / (double)Stopwatch.Frequency)));
        using var stopSampling = new CancellationTokenSource();
        var sampling = SampleWaitsAsync(database, stopSampling.Token);
        var cpuStart = MachineCpu.Read();
        var clientCpuStart = Process.GetCurrentProcess().TotalProcessorTime;
        var results = await Task.WhenAll(loops);
        var cpuEnd = MachineCpu.Read();
        var clientCpuEnd = Process.GetCurrentProcess().TotalProcessorTime;
        await stopSampling.CancelAsync();
        var waits = await sampling;

        var latencies = results.SelectMany(r => r.latencies).ToArray();
        Array.Sort(latencies);
        var refusedTotal = results.Sum(r => r.refused);
        var errors = refusedTotal == 0 ? [] : new Dictionary<string, int> { ["refused (balance)"] = refusedTotal };
        TimeSpan At(double p) => latencies.Length == 0 ? TimeSpan.Zero : Stopwatch.GetElapsedTime(0, latencies[Math.Min(latencies.Length - 1, (int)(p * latencies.Length))]);
        return (new LoadResult(latencies.Length, duration, At(0.5), At(0.99), errors, MachineCpu.BusyFraction(cpuStart, cpuEnd), clientCpuEnd - clientCpuStart, latencies.Length),
            waits);
    }
}

/// <summary>How often the subject's database backends were seen in each state over the samples.</summary>
internal sealed class WaitProfile
{
    private readonly Dictionary<string, int> _seen = [];

    public int Samples { get; set; }

    public void Add(string what) => _seen[what] = _seen.GetValueOrDefault(what) + 1;

    /// <summary>For example <c>Lock:transactionid 41.2, CPU 3.1, IO:WALSync 0.9</c>: the mean number of backends in each state.</summary>
    public override string ToString() => Samples == 0
        ? "no samples"
        : string.Join(", ", _seen.OrderByDescending(p => p.Value).Take(6).Select(p => $"{p.Key} {p.Value / (double)Samples:0.0}"));
}
