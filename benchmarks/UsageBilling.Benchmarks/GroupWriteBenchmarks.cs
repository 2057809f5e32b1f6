using System.Data.Common;
using BenchmarkDotNet.Attributes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Npgsql;
using UsageBilling.Stores;

namespace UsageBilling.Benchmarks;

/// <summary>
/// What the EF Core group writes cost per call, without HTTP and without the load benchmark's noise: one thread admits
/// a group of <see cref="GroupSize"/> flat-priced calls with five limit windows each through
/// <see cref="ICallAdmissionStore"/> (counters, reservations, holds: one transaction), then completes them through
/// <see cref="ICallCompletionStore"/> (settles, balances, ledger entries, usage records: one transaction), calls spread
/// over 64 accounts. The baseline writes the same number of rows the plainest way the database offers: two
/// transactions per group, and per call four single-row inserts of prepared statements into a table with a primary key
/// — what a group would cost if it were nothing but its rows. SQLite runs on a temporary file; PostgreSQL when
/// <c>USAGEBILLING_POSTGRES</c> names a server (a fresh database, dropped afterwards). With
/// <c>USAGEBILLING_BENCH_SQLITE_PROFILE=1</c> SQLite's own time per statement is printed (<see cref="SqliteStatementProfile"/>).
/// </summary>
[MemoryDiagnoser]
public class GroupWriteBenchmarks
{
    public const int GroupSize = 18;

    private const int Accounts = 64;

    private static readonly RequestLimits FiveWindows = new()
    {
        RequestsPerSecond = long.MaxValue / 2,
        RequestsPerMinute = long.MaxValue / 2,
        RequestsPerHour = long.MaxValue / 2,
        RequestsPerDay = long.MaxValue / 2,
        MonthlyRequests = long.MaxValue / 2,
    };

    private WebApplication _app = null!;
    private ICallAdmissionStore _admissions = null!;
    private ICallCompletionStore _completions = null!;
    private string[] _accounts = null!;
    private string[] _keys = null!;
    private DbConnection _plain = null!;
    private DbCommand _insert = null!;
    private string? _sqliteFile;
    private string? _postgresDatabase;
    private long _next;

    /// <summary><c>sqlite</c>, and <c>postgresql</c> when <c>USAGEBILLING_POSTGRES</c> is set.</summary>
    [ParamsSource(nameof(Backends))]
    public string Backend { get; set; } = "sqlite";

    public static IEnumerable<string> Backends()
    {
        yield return "sqlite";
        if (!string.IsNullOrEmpty(Environment.GetEnvironmentVariable("USAGEBILLING_POSTGRES")))
        {
            yield return "postgresql";
        }
    }

    [GlobalSetup]
    public async Task SetupAsync()
    {
        var connectionString = await CreateDatabaseAsync();
        var builder = WebApplication.CreateBuilder();
        builder.WebHost.UseTestServer();
        builder.Logging.ClearProviders();
        builder.Services.AddUsageBilling(o => o.Plans.Limits["bench"] = new RequestLimits { RequestsPerMinute = long.MaxValue / 2 })
            .UseEntityFrameworkCore(
                ef =>
                {
                    _ = Backend == "sqlite" ? ef.UseSqlite(connectionString) : ef.UseNpgsql(connectionString);
                    if (SqliteStatementProfile.Enabled)
                    {
                        ef.AddInterceptors(new SqliteStatementProfile());
                    }
                },
                o => o.CreateDatabaseOnStartup = true);
        _app = builder.Build();
        await _app.StartAsync();

        _admissions = _app.Services.GetRequiredService<ICallAdmissionStore>();
        _completions = _app.Services.GetRequiredService<ICallCompletionStore>();
        var accounts = _app.Services.GetRequiredService<AccountManager>();
        var credits = _app.Services.GetRequiredService<CreditManager>();
        var keys = _app.Services.GetRequiredService<ApiKeyManager>();
        _accounts = new string[Accounts];
        _keys = new string[Accounts];
        for (var i = 0; i < Accounts; i++)
        {
            var account = await accounts.CreateAsync($"bench-{i}", "bench");
            await credits.PostAsync(account.Id, LedgerEntryKind.Grant, Money.FromUnits(1_000_000_000m));
            _accounts[i] = account.Id;
            _keys[i] = (await keys.CreateAsync(account.Id, "bench")).Key.Id;
        }

        _plain = Backend == "sqlite" ? new SqliteConnection(connectionString) : new NpgsqlConnection(connectionString);
        await _plain.OpenAsync();
        await using (var create = _plain.CreateCommand())
        {
            create.CommandText = "CREATE TABLE plain_rows (id text PRIMARY KEY, account text NOT NULL, amount bigint NOT NULL)";
            await create.ExecuteNonQueryAsync();
        }

        _insert = _plain.CreateCommand();
        _insert.CommandText = Backend == "sqlite"
            ? "INSERT INTO plain_rows (id, account, amount) VALUES (@id, @account, @amount)"
            : "INSERT INTO plain_rows (id, account, amount) VALUES ($1, $2, $3)";
        foreach (var name in (ReadOnlySpan<string>)["@id", "@account", "@amount"])
        {
            var parameter = _insert.CreateParameter();
            if (Backend == "sqlite")
            {
                parameter.ParameterName = name;
            }

            _insert.Parameters.Add(parameter);
        }

        _insert.Parameters[0].Value = "";
        _insert.Parameters[1].Value = "";
        _insert.Parameters[2].Value = 0L;
        await _insert.PrepareAsync();
    }

    [GlobalCleanup]
    public async Task CleanupAsync()
    {
        if (SqliteStatementProfile.Enabled && Backend == "sqlite")
        {
            SqliteStatementProfile.Print();
        }

        await _insert.DisposeAsync();
        await _plain.DisposeAsync();
        await _app.DisposeAsync();
        if (_sqliteFile is not null)
        {
            SqliteConnection.ClearAllPools();
            foreach (var file in (ReadOnlySpan<string>)[_sqliteFile, _sqliteFile + "-wal", _sqliteFile + "-shm"])
            {
                File.Delete(file);
            }
        }

        if (_postgresDatabase is not null)
        {
            NpgsqlConnection.ClearAllPools();
            await using var admin = new NpgsqlConnection(Environment.GetEnvironmentVariable("USAGEBILLING_POSTGRES"));
            await admin.OpenAsync();
            await using var drop = new NpgsqlCommand($"DROP DATABASE IF EXISTS \"{_postgresDatabase}\" WITH (FORCE)", admin);
            await drop.ExecuteNonQueryAsync();
        }
    }

    /// <summary>Two transactions per group; four prepared single-row inserts per call.</summary>
    [Benchmark(Baseline = true, OperationsPerInvoke = GroupSize)]
    public async Task PlainRows()
    {
        for (var transaction = 0; transaction < 2; transaction++)
        {
            await using var tx = await _plain.BeginTransactionAsync();
            _insert.Transaction = tx;
            for (var i = 0; i < GroupSize * 2; i++)
            {
                var n = _next++;
                _insert.Parameters[0].Value = "row_" + n;
                _insert.Parameters[1].Value = _accounts[n % Accounts];
                _insert.Parameters[2].Value = n;
                await _insert.ExecuteNonQueryAsync();
            }

            await tx.CommitAsync();
        }
    }

    /// <summary>One admission group and one completion batch of <see cref="GroupSize"/> calls.</summary>
    [Benchmark(OperationsPerInvoke = GroupSize)]
    public async Task AdmitAndComplete()
    {
        var now = DateTimeOffset.UtcNow;
        var calls = new CallAdmissionRequest[GroupSize];
        var owners = new int[GroupSize];
        for (var i = 0; i < GroupSize; i++)
        {
            var n = _next++;
            var account = owners[i] = (int)(n % Accounts);
            var windows = LimitWindows.ForCall(_keys[account], FiveWindows, now, 0);
            calls[i] = new CallAdmissionRequest(windows.RequestIncrements, static _ => true, new CreditReservationRequest
            {
                ReservationId = "res_bench_" + n,
                AccountId = _accounts[account],
                Amount = new Money(1000),
                IdempotencyKey = "req:bench_" + n,
                Reference = "GET /x",
                CreatedAt = now,
                ExpiresAt = now.AddMinutes(5),
            });
        }

        var admitted = await _admissions.TryAdmitAsync(calls);
        var completions = new CallCompletion[GroupSize];
        for (var i = 0; i < GroupSize; i++)
        {
            if (admitted[i].Status != CallAdmissionStatus.Admitted)
            {
                throw new InvalidOperationException($"Call {i} of the group was {admitted[i].Status}.");
            }

            var reservation = calls[i].Reservation;
            completions[i] = new CallCompletion(reservation.ReservationId, new Money(1000), new UsageRecord
            {
                RequestId = "req_bench_" + reservation.ReservationId,
                Timestamp = now,
                KeyId = _keys[owners[i]],
                AccountId = reservation.AccountId,
                Method = "GET",
                Route = "/x",
                StatusCode = 200,
                DurationMs = 1,
                Cost = new Money(1000),
                Outcome = UsageOutcomes.Charged,
            });
        }

        var completed = await _completions.CompleteAsync(completions, now);
        if (completed.Any(static c => c.Status != CompletionStatus.Completed))
        {
            throw new InvalidOperationException("A completion of the group did not complete.");
        }
    }

    private async Task<string> CreateDatabaseAsync()
    {
        if (Backend == "sqlite")
        {
            _sqliteFile = Path.Combine(Path.GetTempPath(), $"usagebilling-groupwrites-{Guid.NewGuid():N}.db");
            return $"Data Source={_sqliteFile}";
        }

        var server = Environment.GetEnvironmentVariable("USAGEBILLING_POSTGRES")!;
        _postgresDatabase = $"usagebilling_groupwrites_{Guid.NewGuid():N}";
        await using var admin = new NpgsqlConnection(server);
        await admin.OpenAsync();
        await using var create = new NpgsqlCommand($"CREATE DATABASE \"{_postgresDatabase}\"", admin);
        await create.ExecuteNonQueryAsync();
        return new NpgsqlConnectionStringBuilder(server) { Database = _postgresDatabase }.ConnectionString;
    }
}
