using System.Data;
using System.Data.Common;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using UsageBilling.Tests.Shared;

namespace UsageBilling.EntityFrameworkCore.Tests;

/// <summary>
/// The connection a group writer keeps between its writes (<see cref="HeldContext{TContext}"/>): one connection for
/// back-to-back writes, given back when idle, after a failed write, and at disposal.
/// </summary>
public abstract class HeldContextTests(BillingTestDatabase database)
{
    private BillingDatabase<UsageBillingDbContext> Billing => database.Get<BillingDatabase<UsageBillingDbContext>>();

    [SkippableFact]
    public async Task Back_to_back_writes_share_one_connection_which_is_given_back_once_idle()
    {
        await using var held = new HeldContext<UsageBillingDbContext>();
        var first = await ConnectionOfWriteAsync(held);
        Assert.Equal(ConnectionState.Open, first.State);
        Assert.Same(first, await ConnectionOfWriteAsync(held));
        Assert.True(held.IsHolding);

        await WaitUntilAsync(() => !held.IsHolding, "the held context was not given back after it idled");
        Assert.Equal(ConnectionState.Closed, first.State);
        Assert.Equal(ConnectionState.Open, (await ConnectionOfWriteAsync(held)).State);
    }

    [SkippableFact]
    public async Task A_failed_write_gives_its_connection_back_and_keeps_nothing_it_wrote()
    {
        await using var held = new HeldContext<UsageBillingDbContext>();
        var first = await ConnectionOfWriteAsync(held);
        var account = "acct_" + Guid.NewGuid().ToString("N");

        await Assert.ThrowsAsync<InvalidOperationException>(async () => await Billing.WriteAsync<int>(async (transaction, ct) =>
        {
            Assert.Same(first, transaction.Context.Database.GetDbConnection());
            await InsertBalanceAsync(transaction, account, ct);
            throw new InvalidOperationException("the write fails after its insert");
        }, default, held));

        Assert.False(held.IsHolding);
        Assert.Equal(ConnectionState.Closed, first.State);
        Assert.Equal(0, await Billing.WriteAsync(async (transaction, ct) => Convert.ToInt32(await Scalar(transaction,
            $"SELECT COUNT(*) FROM {transaction.Schema.Balances.Name} WHERE {transaction.Schema.Balances["AccountId"]} = @a", account, ct), System.Globalization.CultureInfo.InvariantCulture), default));
    }

    [SkippableTheory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Disposing_gives_the_held_connection_back_and_holds_nothing_after(bool disposeAsync)
    {
        var held = new HeldContext<UsageBillingDbContext>();
        var connection = await ConnectionOfWriteAsync(held);
        Assert.True(held.IsHolding);

        await DisposeEitherWayAsync(held, disposeAsync);

        Assert.False(held.IsHolding);
        Assert.Equal(ConnectionState.Closed, connection.State);

        // A write after disposal still runs, on a pooled context of its own that it does not keep.
        Assert.Equal(ConnectionState.Closed, (await ConnectionOfWriteAsync(held)).State);
        Assert.False(held.IsHolding);
    }

    [SkippableTheory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task The_registered_writers_give_their_connections_back_when_the_container_is_disposed_either_way(bool disposeAsync)
    {
        Skip.If(database.SkipReason is not null, database.SkipReason);
        var services = new ServiceCollection().AddLogging();
        services.AddUsageBilling().UseEntityFrameworkCore(database.Configure);
        var provider = services.BuildServiceProvider();
        var completions = Assert.IsType<EfCoreCallCompletionStore<UsageBillingDbContext>>(provider.GetRequiredService<ICallCompletionStore>());
        Assert.IsType<EfCoreCallAdmissionStore<UsageBillingDbContext>>(provider.GetRequiredService<ICallAdmissionStore>());

        // A batch naming a reservation nobody made is written (and answered NotActive): the writer keeps its connection.
        var result = Assert.Single(await completions.CompleteAsync([new CallCompletion("res_" + Guid.NewGuid().ToString("N"), Money.FromUnits(1m), null)], DateTimeOffset.UtcNow));
        Assert.Equal(CompletionStatus.NotActive, result.Status);
        Assert.True(completions.HoldsConnection);

        await DisposeEitherWayAsync(provider, disposeAsync);

        Assert.False(completions.HoldsConnection);
    }

    [SkippableFact]
    public async Task The_group_writers_share_one_held_context_on_SQLite_and_have_one_each_on_PostgreSQL()
    {
        Skip.If(database.SkipReason is not null, database.SkipReason);
        var admissions = await Billing.GroupWriterContextAsync(GroupWriterRole.Admissions, default);
        var completions = await Billing.GroupWriterContextAsync(GroupWriterRole.Completions, default);
        Assert.Same(admissions, await Billing.GroupWriterContextAsync(GroupWriterRole.Admissions, default));
        Assert.Equal(WritersShareOneContext, ReferenceEquals(admissions, completions));
    }

    private protected abstract bool WritersShareOneContext { get; }

    private protected BillingDatabase<UsageBillingDbContext> Database => Billing;

    private static async Task DisposeEitherWayAsync<T>(T target, bool disposeAsync) where T : IAsyncDisposable, IDisposable
    {
        if (disposeAsync)
        {
            await target.DisposeAsync();
        }
        else
        {
            target.Dispose();
        }
    }

    private protected Task<DbConnection> ConnectionOfWriteAsync(HeldContext<UsageBillingDbContext> held)
        => Billing.WriteAsync((transaction, _) => Task.FromResult(transaction.Context.Database.GetDbConnection()), default, held).AsTask();

    private protected static Task WaitUntilAsync(Func<bool> condition, string failure)
        => Polling.WaitUntilAsync(condition, HeldContext<UsageBillingDbContext>.IdleRelease * 20, failure);

    private protected static async Task InsertBalanceAsync(BillingTransaction transaction, string account, CancellationToken ct)
    {
        var b = transaction.Schema.Balances;
        await using var command = transaction.Command($"INSERT INTO {b.Name} ({b["AccountId"]}, {b["Balance"]}, {b["Reserved"]}) VALUES (@a, 5, 0)").With("@a", account);
        await command.ExecuteNonQueryAsync(ct);
    }

    private protected static async Task<object?> Scalar(BillingTransaction transaction, string sql, string account, CancellationToken ct)
    {
        await using var command = transaction.Command(sql).With("@a", account);
        return await command.ExecuteScalarAsync(ct);
    }
}

public sealed class SqliteHeldContextTests(SqliteTestDatabase database) : HeldContextTests(database), IClassFixture<SqliteTestDatabase>
{
    private protected override bool WritersShareOneContext => true;

    [SkippableFact]
    public async Task Writers_sharing_a_held_context_all_write_on_its_connection_even_when_they_arrive_together()
    {
        await using var held = new HeldContext<UsageBillingDbContext>();
        var first = await ConnectionOfWriteAsync(held);

        // Each write takes its turn at the file's gate before it takes the held context, so none finds it taken: not even
        // those that arrive while another write is in progress.
        var connections = await Task.WhenAll(Enumerable.Range(0, 20).Select(_ => Database.WriteAsync(async (transaction, ct) =>
        {
            await Task.Delay(5, ct);
            return transaction.Context.Database.GetDbConnection();
        }, default, held).AsTask()));
        Assert.All(connections, connection => Assert.Same(first, connection));
    }

    [SkippableFact]
    public async Task A_held_connection_runs_a_statement_again_from_its_kept_command_bound_to_the_new_values()
    {
        await using var held = new HeldContext<UsageBillingDbContext>();
        var read = new List<long>();
        var connections = new List<DbConnection>();
        foreach (var value in new long[] { 1, 2, 3 })
        {
            connections.Add(await Database.WriteAsync(async (transaction, ct) =>
            {
                var batch = new StatementBatch(transaction);
                foreach (var sql in (string[])["SELECT @v", "SELECT @v + 10"])
                {
                    batch.Add(sql, async (reader, c) =>
                    {
                        while (await reader.ReadAsync(c))
                        {
                            read.Add(reader.GetInt64(0));
                        }
                    }).With("@v", value);
                }

                await batch.ExecuteAsync(ct);
                return transaction.Context.Database.GetDbConnection();
            }, default, held));
        }

        Assert.Equal([1, 11, 2, 12, 3, 13], read);
        Assert.Single(connections.Distinct());
        Assert.Equal(2, StatementBatch.KeptCommandCount(connections[0]));

        // A write on a pooled connection keeps nothing.
        var pooled = await Database.WriteAsync(async (transaction, ct) =>
        {
            var batch = new StatementBatch(transaction);
            batch.Add("SELECT 1");
            await batch.ExecuteAsync(ct);
            return transaction.Context.Database.GetDbConnection();
        }, default);
        Assert.Equal(0, StatementBatch.KeptCommandCount(pooled));
    }

    [SkippableFact]
    public async Task Group_writes_that_wait_for_the_file_together_commit_in_one_transaction()
    {
        await using var held = new HeldContext<UsageBillingDbContext>();
        string[] accounts = [NewAccount(), NewAccount()];
        var shared = Database.SharedTransactions;

        var writes = await QueuedBehindAWriteAsync(held, () => accounts.Select(account => Database.WriteAsync(async (transaction, ct) =>
        {
            await InsertBalanceAsync(transaction, account, ct);
            await transaction.CommitAsync(ct);
            return account;
        }, default, held).AsTask()).ToArray());

        Assert.Equal(accounts, await Task.WhenAll(writes));
        Assert.Equal(shared + 1, Database.SharedTransactions);
        Assert.Equal(new[] { 1, 1 }, await Task.WhenAll(accounts.Select(CountBalancesAsync)));
    }

    [SkippableFact]
    public async Task A_write_that_fails_or_does_not_commit_in_a_shared_transaction_keeps_nothing_and_the_others_commit()
    {
        await using var held = new HeldContext<UsageBillingDbContext>();
        string[] accounts = [NewAccount(), NewAccount(), NewAccount()];
        var shared = Database.SharedTransactions;

        var writes = await QueuedBehindAWriteAsync<int>(held, () =>
        [
            Database.WriteAsync<int>(async (transaction, ct) =>
            {
                await InsertBalanceAsync(transaction, accounts[0], ct);
                throw new InvalidOperationException("the write fails after its insert");
            }, default, held).AsTask(),
            Database.WriteAsync(async (transaction, ct) =>
            {
                await InsertBalanceAsync(transaction, accounts[1], ct);
                return 1; // returns without committing: keeps nothing
            }, default, held).AsTask(),
            Database.WriteAsync(async (transaction, ct) =>
            {
                await InsertBalanceAsync(transaction, accounts[2], ct);
                await transaction.CommitAsync(ct);
                return 2;
            }, default, held).AsTask(),
        ]);

        await Assert.ThrowsAsync<InvalidOperationException>(() => writes[0]);
        Assert.Equal(1, await writes[1]);
        Assert.Equal(2, await writes[2]);
        Assert.Equal(shared + 1, Database.SharedTransactions);
        Assert.Equal(new[] { 0, 0, 1 }, await Task.WhenAll(accounts.Select(CountBalancesAsync)));
    }

    /// <summary>
    /// Starts a write on <paramref name="held"/> that stays in progress until the writes <paramref name="start"/> starts
    /// have queued behind it (none of them runs meanwhile), then lets it finish; returns the queued writes.
    /// </summary>
    private async Task<Task<T>[]> QueuedBehindAWriteAsync<T>(HeldContext<UsageBillingDbContext> held, Func<Task<T>[]> start)
    {
        var running = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var finish = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var inProgress = Database.WriteAsync(async (transaction, ct) =>
        {
            running.SetResult();
            await finish.Task;
            return 0;
        }, default, held).AsTask();
        await running.Task;

        var writes = start();
        await Task.Delay(200);
        Assert.All(writes, write => Assert.False(write.IsCompleted, "a write ran while another was in progress"));
        finish.SetResult();
        await inProgress;
        return writes;
    }

    private static string NewAccount() => "acct_" + Guid.NewGuid().ToString("N");

    private Task<int> CountBalancesAsync(string account) => Database.WriteAsync(async (transaction, ct) => Convert.ToInt32(await Scalar(transaction,
        $"SELECT COUNT(*) FROM {transaction.Schema.Balances.Name} WHERE {transaction.Schema.Balances["AccountId"]} = @a", account, ct),
        System.Globalization.CultureInfo.InvariantCulture), default).AsTask();

    [SkippableFact]
    public async Task A_held_connection_keeps_temporary_data_in_memory_and_checkpoints_the_log_every_10000_pages()
    {
        await using var held = new HeldContext<UsageBillingDbContext>();
        async Task<int> PragmaAsync(string pragma, HeldContext<UsageBillingDbContext>? on) => await Database.WriteAsync(async (transaction, ct) =>
        {
            await using var command = transaction.Command("PRAGMA " + pragma);
            return Convert.ToInt32(await command.ExecuteScalarAsync(ct), System.Globalization.CultureInfo.InvariantCulture);
        }, default, on);

        Assert.Equal(2, await PragmaAsync("temp_store", held)); // MEMORY
        Assert.Equal(10_000, await PragmaAsync("wal_autocheckpoint", held));

        // A pooled connection keeps SQLite's defaults.
        Assert.Equal(1_000, await PragmaAsync("wal_autocheckpoint", null));
    }
}

public sealed class PostgresHeldContextTests(PostgresTestDatabase database) : HeldContextTests(database), IClassFixture<PostgresTestDatabase>
{
    private protected override bool WritersShareOneContext => false;

    [SkippableFact]
    public async Task A_held_connection_the_server_closed_fails_one_write_and_the_next_takes_a_new_one()
    {
        await using var held = new HeldContext<UsageBillingDbContext>();
        var pid = await BackendOfWriteAsync(held);
        Assert.Equal(pid, await BackendOfWriteAsync(held));

        await TerminateAsync(pid);

        await Assert.ThrowsAnyAsync<Exception>(() => BackendOfWriteAsync(held));
        Assert.False(held.IsHolding);
        Assert.NotEqual(pid, await BackendOfWriteAsync(held));
    }

    [SkippableFact]
    public async Task With_EnableRetryOnFailure_a_held_connection_the_server_closed_costs_no_write()
    {
        Skip.If(database.SkipReason is not null, database.SkipReason);
        var services = new ServiceCollection().AddLogging();
        services.AddUsageBilling().UseEntityFrameworkCore(ef => ef.UseNpgsql(database.ConnectionString, npgsql => npgsql.EnableRetryOnFailure(3, TimeSpan.FromMilliseconds(50), null)));
        await using var provider = services.BuildServiceProvider();
        var billing = provider.GetRequiredService<BillingDatabase<UsageBillingDbContext>>();
        await using var held = new HeldContext<UsageBillingDbContext>();
        var pid = await BackendOfWriteAsync(billing, held);
        Assert.Equal(pid, await BackendOfWriteAsync(billing, held));

        await TerminateAsync(pid);

        // The execution strategy runs the write again; its next attempt opens a new connection on the same context.
        var next = await BackendOfWriteAsync(billing, held);
        Assert.NotEqual(pid, next);
        Assert.True(held.IsHolding);
        Assert.Equal(next, await BackendOfWriteAsync(billing, held));
    }

    [SkippableFact]
    public async Task A_write_without_a_transaction_commits_each_command_and_a_closed_connection_fails_it_once()
    {
        Skip.If(database.SkipReason is not null, database.SkipReason);
        await using var held = new HeldContext<UsageBillingDbContext>();
        var key = "autocommit-" + Guid.NewGuid().ToString("N");

        // Never calls CommitAsync: each command commits as it runs.
        Task<int> CountAndBackendAsync() => Database.WriteAsync(async (transaction, ct) =>
        {
            Assert.True(transaction.Autocommit);
            await using var command = transaction.Command(
                $"INSERT INTO {transaction.Schema.Counters.Name} (key, value, expires_at) VALUES (@key, 1, 0) ON CONFLICT (key) DO UPDATE SET value = {transaction.Schema.Counters.Name}.value + 1 RETURNING pg_backend_pid()")
                .With("@key", key);
            return Convert.ToInt32(await command.ExecuteScalarAsync(ct), System.Globalization.CultureInfo.InvariantCulture);
        }, default, held, autocommit: true).AsTask();

        var pid = await CountAndBackendAsync();
        Assert.Equal(pid, await CountAndBackendAsync());
        Assert.Equal(2, await CounterAsync(key));

        await TerminateAsync(pid);

        await Assert.ThrowsAnyAsync<Exception>(CountAndBackendAsync);
        Assert.False(held.IsHolding);
        Assert.NotEqual(pid, await CountAndBackendAsync());
        Assert.Equal(3, await CounterAsync(key));
    }

    private async Task<long> CounterAsync(string key)
    {
        await using var reader = new NpgsqlConnection(database.ConnectionString);
        await reader.OpenAsync();
        await using var select = new NpgsqlCommand("SELECT value FROM billing_rate_limit_counters WHERE key = @key", reader);
        select.Parameters.AddWithValue("key", key);
        return (long)(await select.ExecuteScalarAsync())!;
    }

    private async Task TerminateAsync(int pid)
    {
        await using var admin = new NpgsqlConnection(database.ConnectionString);
        await admin.OpenAsync();
        await using var terminate = new NpgsqlCommand("SELECT pg_terminate_backend(@pid)", admin);
        terminate.Parameters.AddWithValue("pid", pid);
        Assert.True((bool)(await terminate.ExecuteScalarAsync())!);
    }

    private Task<int> BackendOfWriteAsync(HeldContext<UsageBillingDbContext> held) => BackendOfWriteAsync(Database, held);

    private static Task<int> BackendOfWriteAsync(BillingDatabase<UsageBillingDbContext> billing, HeldContext<UsageBillingDbContext> held) => billing.WriteAsync(async (transaction, ct) =>
    {
        await using var command = transaction.Command("SELECT pg_backend_pid()");
        return Convert.ToInt32(await command.ExecuteScalarAsync(ct), System.Globalization.CultureInfo.InvariantCulture);
    }, default, held).AsTask();
}
