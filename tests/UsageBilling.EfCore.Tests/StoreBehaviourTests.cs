using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace UsageBilling.EntityFrameworkCore.Tests;

/// <summary>What the Entity Framework Core stores promise beyond the conformance suite, on each database.</summary>
public abstract class StoreBehaviourTests(BillingTestDatabase database)
{
    private protected static readonly DateTimeOffset Now = new(2026, 11, 1, 12, 0, 0, TimeSpan.Zero);

    [SkippableFact]
    public async Task Timestamps_of_keys_reservations_and_ledger_entries_round_trip_to_the_tick()
    {
        var at = new DateTimeOffset(2026, 11, 1, 12, 0, 0, TimeSpan.FromHours(2)).AddTicks(1_234_567);
        var keys = database.Get<IApiKeyStore>();
        var key = new ApiKeyRecord
        {
            Id = NewId("key"), AccountId = NewId("acct"), Name = "precise", DisplayPrefix = "sk-abcd",
            Hash = Guid.NewGuid().ToString("N") + Guid.NewGuid().ToString("N"), CreatedAt = at, ExpiresAt = at.AddDays(1),
        };
        await keys.CreateAsync(key);
        Assert.Equal(key, await keys.FindByIdAsync(key.Id));

        var credits = database.Get<ICreditStore>();
        var account = NewId("acct");
        var grant = await GrantAsync(credits, account, 5m, "g", at);
        Assert.Equal(grant.Entry, Assert.Single((await credits.GetLedgerAsync(account, 10, null)).Entries));
        var held = await credits.ReserveAsync(new CreditReservationRequest
        {
            ReservationId = NewId("res"), AccountId = account, Amount = Money.FromUnits(1m), IdempotencyKey = "r", CreatedAt = at, ExpiresAt = at.AddMinutes(10),
        });
        Assert.Equal(held.Reservation, await credits.FindReservationAsync(held.Reservation!.Id));
    }

    [SkippableFact]
    public async Task Duplicate_accounts_and_keys_are_refused_with_InvalidOperationException_as_the_interfaces_promise()
    {
        var accounts = database.Get<IAccountStore>();
        var account = new BillingAccount { Id = NewId("acct"), Name = "Acme", Plan = "pro", CreatedAt = Now };
        await accounts.CreateAsync(account);
        await Assert.ThrowsAsync<InvalidOperationException>(async () => await accounts.CreateAsync(account with { Name = "Other" }));

        var keys = database.Get<IApiKeyStore>();
        var key = new ApiKeyRecord
        {
            Id = NewId("key"), AccountId = account.Id, Name = "k", DisplayPrefix = "sk-abcd", Hash = Guid.NewGuid().ToString("N"), CreatedAt = Now,
        };
        await keys.CreateAsync(key);
        await Assert.ThrowsAsync<InvalidOperationException>(async () => await keys.CreateAsync(key with { Id = NewId("key") }));
        await Assert.ThrowsAsync<InvalidOperationException>(async () => await keys.CreateAsync(key with { Hash = Guid.NewGuid().ToString("N") }));
    }

    [SkippableFact]
    public async Task Usage_timestamps_are_kept_to_the_millisecond()
    {
        var usage = database.Get<IUsageStore>();
        var account = NewId("acct");
        var record = Record(account, Now.AddTicks(1_234_567), NewId("req"));
        await usage.AppendAsync([record]);

        var read = Assert.Single((await usage.QueryAsync(new UsageQuery { AccountId = account })).Records);
        Assert.Equal(record with { Timestamp = Now.AddMilliseconds(123) }, read);
    }

    [SkippableFact]
    public async Task A_nul_in_a_client_string_is_refused_by_postgresql_and_the_usage_log_queue_replaces_it()
    {
        var usage = database.Get<IUsageStore>();
        var account = NewId("acct");
        var hostile = Record(account, Now, NewId("req")) with { Model = "gpt\u00004o", Route = "/x/\0", IdempotencyKey = "k\0" };
        if (database is PostgresTestDatabase)
        {
            // PostgreSQL refuses NUL in text: such a record would fail its whole batch, every time.
            await Assert.ThrowsAnyAsync<Exception>(async () => await usage.AppendAsync([hostile]));
        }

        await usage.AppendAsync([UsageLogQueue.Normalize(hostile)]);

        var read = Assert.Single((await usage.QueryAsync(new UsageQuery { AccountId = account })).Records);
        Assert.Equal("gpt\uFFFD4o", read.Model);
        Assert.Equal("/x/\uFFFD", read.Route);
        Assert.Equal("k\uFFFD", read.IdempotencyKey);
    }

    [SkippableFact]
    public async Task Usage_ties_on_the_timestamp_are_broken_by_ordinal_request_id_whatever_the_collation()
    {
        // Ordinal: "req_B" < "req_a" < "req_b"; most linguistic collations put "req_a" first.
        var usage = database.Get<IUsageStore>();
        var account = NewId("acct");
        var prefix = NewId("req") + "_";
        await usage.AppendAsync([Record(account, Now, prefix + "a"), Record(account, Now, prefix + "B"), Record(account, Now, prefix + "b")]);

        var seen = new List<string>();
        string? cursor = null;
        do
        {
            var page = await usage.QueryAsync(new UsageQuery { AccountId = account, Limit = 1, Cursor = cursor });
            seen.AddRange(page.Records.Select(r => r.RequestId[prefix.Length..]));
            cursor = page.NextCursor;
        }
        while (cursor is not null && seen.Count < 10);

        Assert.Equal(["b", "a", "B"], seen);
    }

    [SkippableFact]
    public async Task Keys_are_listed_in_ordinal_id_order_whatever_the_collation()
    {
        var keys = database.Get<IApiKeyStore>();
        var prefix = NewId("key") + "_";
        foreach (var suffix in new[] { "a", "B", "b", "A" })
        {
            await keys.CreateAsync(new ApiKeyRecord
            {
                Id = prefix + suffix, AccountId = NewId("acct"), Name = suffix, DisplayPrefix = "sk-abcd",
                Hash = Guid.NewGuid().ToString("N") + suffix, CreatedAt = Now,
            });
        }

        // Every id with the prefix sorts after the prefix itself and before any id that does not start with it.
        var listed = await keys.ListAsync(prefix, 4);
        Assert.Equal(["A", "B", "a", "b"], listed.Select(k => k.Id[prefix.Length..]));
        Assert.Equal(["a", "b"], (await keys.ListAsync(prefix + "B", 2)).Select(k => k.Id[prefix.Length..]));
    }

    [SkippableFact]
    public async Task A_large_batch_is_appended_once_even_when_retried()
    {
        var usage = database.Get<IUsageStore>();
        var account = NewId("acct");
        // More records than the 200 rows per statement the store once wrote in chunks (PostgreSQL now sends one statement).
        var records = Enumerable.Range(0, 417)
            .Select(i => Record(account, Now.AddMilliseconds(i), NewId("req")))
            .ToList();
        await usage.AppendAsync(records);
        await usage.AppendAsync(records);

        var total = 0;
        string? cursor = null;
        do
        {
            var page = await usage.QueryAsync(new UsageQuery { AccountId = account, Limit = 100, Cursor = cursor });
            total += page.Records.Count;
            cursor = page.NextCursor;
        }
        while (cursor is not null);
        Assert.Equal(records.Count, total);
    }

    [SkippableFact]
    public async Task Expired_counters_are_deleted_and_live_ones_kept()
    {
        // The store's own background cleanup first runs one interval (a minute) after it was created; this calls it directly.
        var counters = database.Get<ICounterStore>();
        var (expired, live) = (NewId("key") + ":m:1", NewId("key") + ":m:2");
        var now = DateTimeOffset.UtcNow;
        await counters.IncrementAsync([new(expired, 3, now.AddMinutes(-1)), new(live, 4, now.AddHours(1))]);
        Assert.Equal(new long[] { 3, 4 }, await counters.GetAsync([expired, live]));

        var store = Assert.IsType<EfCoreRateLimitCounterStore<UsageBillingDbContext>>(ObservedStores.Unwrap(counters));
        Assert.True(await store.DeleteExpiredAsync(now, CancellationToken.None) >= 1);
        Assert.Equal(new long[] { 0, 4 }, await counters.GetAsync([expired, live]));
    }

    [SkippableFact]
    public async Task A_refused_hold_answers_with_the_balance_it_did_not_fit_for_the_402()
    {
        var credits = database.Get<ICreditStore>();
        var account = NewId("acct");
        await GrantAsync(credits, account, 10m, "g", Now);
        var held = await credits.ReserveAsync(Hold(account, 6m, "r1"));
        Assert.Equal(new CreditBalance(Money.FromUnits(10m), Money.FromUnits(6m)), held.Balance);

        var refused = await credits.ReserveAsync(Hold(account, 4.5m, "r2"));

        Assert.Equal(ReserveStatus.InsufficientCredit, refused.Status);
        Assert.Equal(new CreditBalance(Money.FromUnits(10m), Money.FromUnits(6m)), refused.Balance);
        Assert.Equal(Money.FromUnits(4m), refused.Balance!.Value.Available);
    }

    [SkippableFact]
    public async Task A_free_call_holds_nothing_on_an_account_that_never_had_money_and_settles_for_nothing()
    {
        var credits = database.Get<ICreditStore>();
        var account = NewId("acct");

        var held = await credits.ReserveAsync(Hold(account, 0m, "free-1"));
        Assert.Equal(ReserveStatus.Reserved, held.Status);
        Assert.Equal(default(CreditBalance), held.Balance);

        // Once the balance row exists, a second free call holds the same way.
        Assert.Equal(ReserveStatus.Reserved, (await credits.ReserveAsync(Hold(account, 0m, "free-2"))).Status);
        Assert.Equal(ReserveStatus.InsufficientCredit, (await credits.ReserveAsync(Hold(account, 0.000000001m, "paid"))).Status);
        var settled = await credits.SettleAsync(held.Reservation!.Id, Money.Zero, Now);
        Assert.Equal(SettleStatus.Settled, settled.Status);
        Assert.Null(settled.Entry);
        Assert.Equal(default(CreditBalance), await credits.GetBalanceAsync(account));
    }

    [SkippableFact]
    public async Task A_ledger_page_that_ends_exactly_at_the_oldest_entry_has_no_next_cursor_and_a_page_below_one_is_refused()
    {
        var credits = database.Get<ICreditStore>();
        var account = NewId("acct");
        foreach (var key in new[] { "g1", "g2" })
        {
            await GrantAsync(credits, account, 1m, key, Now);
        }

        var page = await credits.GetLedgerAsync(account, 2, null);
        Assert.Equal(2, page.Entries.Count);
        Assert.Null(page.NextCursor);
        Assert.NotNull((await credits.GetLedgerAsync(account, 1, null)).NextCursor);
        Assert.Equal("limit", (await Assert.ThrowsAsync<ArgumentOutOfRangeException>(async () => await credits.GetLedgerAsync(account, 0, null))).ParamName);
    }

    [SkippableFact]
    public async Task A_move_no_balance_could_absorb_is_refused_as_over_the_limit_and_moves_nothing()
    {
        var credits = database.Get<ICreditStore>();
        var account = NewId("acct");

        foreach (var nanos in new[] { long.MaxValue, long.MinValue + 1 })
        {
            var posted = await credits.PostAsync(new LedgerPostRequest
            {
                EntryId = NewId("led"), AccountId = account, Kind = LedgerEntryKind.Adjustment, Amount = new Money(nanos), IdempotencyKey = $"huge-{nanos}",
                RequireAvailableBalance = false, CreatedAt = Now,
            });
            Assert.Equal(PostStatus.LimitExceeded, posted.Status);
        }

        // Within what the store can add up, the database's bounds decide: one unit past the negative maximum is refused.
        var pastFloor = await credits.PostAsync(new LedgerPostRequest
        {
            EntryId = NewId("led"), AccountId = account, Kind = LedgerEntryKind.Charge, Amount = -(CreditBalance.MaxBalance + Money.FromUnits(1m)),
            IdempotencyKey = "past-floor", RequireAvailableBalance = false, CreatedAt = Now,
        });
        Assert.Equal(PostStatus.LimitExceeded, pastFloor.Status);

        Assert.Equal(default(CreditBalance), await credits.GetBalanceAsync(account));
        Assert.Empty((await credits.GetLedgerAsync(account, 10, null)).Entries);
    }

    [SkippableFact]
    public async Task An_expiry_sweep_with_a_batch_below_one_is_refused_and_releases_nothing()
    {
        var credits = database.Get<ICreditStore>();
        var account = NewId("acct");
        await GrantAsync(credits, account, 5m, "g", Now);
        var hold = (await credits.ReserveAsync(new CreditReservationRequest
        {
            ReservationId = NewId("res"), AccountId = account, Amount = Money.FromUnits(2m), IdempotencyKey = "due", CreatedAt = Now, ExpiresAt = Now.AddYears(50),
        })).Reservation!;

        // A sweeper asking for no rows at all would loop forever on "a full batch, sweep again".
        Assert.Equal("maxCount", (await Assert.ThrowsAsync<ArgumentOutOfRangeException>(async () =>
            await credits.ExpireReservationsAsync(Now.AddYears(51), DateTimeOffset.UnixEpoch, 0))).ParamName);
        Assert.Equal(ReservationState.Active, (await credits.FindReservationAsync(hold.Id))!.State);
        Assert.Equal(Money.FromUnits(2m), (await credits.GetBalanceAsync(account)).Reserved);
    }

    [SkippableFact]
    public async Task A_missing_request_is_refused_with_ArgumentNullException()
    {
        var credits = database.Get<ICreditStore>();

        Assert.Equal("request", (await Assert.ThrowsAsync<ArgumentNullException>(async () => await credits.ReserveAsync(null!))).ParamName);
        Assert.Equal("request", (await Assert.ThrowsAsync<ArgumentNullException>(async () => await credits.PostAsync(null!))).ParamName);
        Assert.Equal("completions", (await Assert.ThrowsAsync<ArgumentNullException>(async () => await database.Get<ICallCompletionStore>().CompleteAsync(null!, Now))).ParamName);
        Assert.Equal("calls", (await Assert.ThrowsAsync<ArgumentNullException>(async () => await database.Get<ICallAdmissionStore>().TryAdmitAsync(null!))).ParamName);
    }

    [SkippableFact]
    public async Task A_ledger_cursor_that_is_not_one_of_ours_reads_as_the_end()
    {
        var credits = database.Get<ICreditStore>();
        var account = NewId("acct");
        await GrantAsync(credits, account, 1m, "g", Now);
        var page = await credits.GetLedgerAsync(account, 10, "not-a-cursor");
        Assert.Empty(page.Entries);
        Assert.Null(page.NextCursor);
    }

    [SkippableFact]
    public async Task Settle_release_and_expiry_racing_on_the_same_reservations_leave_one_outcome_each()
    {
        var credits = database.Get<ICreditStore>();
        var account = NewId("acct");
        await GrantAsync(credits, account, 1000m, "seed", Now);
        var reservations = new List<CreditReservation>();
        for (var i = 0; i < 100; i++)
        {
            var held = await credits.ReserveAsync(new CreditReservationRequest
            {
                ReservationId = NewId("res"), AccountId = account, Amount = Money.FromUnits(2m), IdempotencyKey = $"r{i}",
                CreatedAt = Now, ExpiresAt = Now.AddSeconds(-1),
            });
            reservations.Add(held.Reservation!);
        }

        var settles = reservations.Select(r => Task.Run(async () => await credits.SettleAsync(r.Id, Money.FromUnits(0.5m), Now)));
        var releases = reservations.Select(r => Task.Run(async () => await credits.ReleaseAsync(r.Id, Now)));
        var expiries = Enumerable.Range(0, 10).Select(_ => Task.Run(async () => await credits.ExpireReservationsAsync(Now, DateTimeOffset.UnixEpoch, 7)));
        var settled = await Task.WhenAll(settles);
        await Task.WhenAll(releases);
        await Task.WhenAll(expiries);

        var charged = settled.Count(s => s.Status == SettleStatus.Settled);
        var states = await Task.WhenAll(reservations.Select(async r => (await credits.FindReservationAsync(r.Id))!.State));
        Assert.Equal(charged, states.Count(s => s == ReservationState.Settled));
        Assert.DoesNotContain(ReservationState.Active, states);
        var balance = await credits.GetBalanceAsync(account);
        Assert.Equal(new CreditBalance(Money.FromUnits(1000m) - Money.FromUnits(0.5m) * charged, Money.Zero), balance);
        var ledger = await credits.GetLedgerAsync(account, 1000, null);
        Assert.Equal(charged + 1, ledger.Entries.Count);
        Assert.Equal(balance.Balance, ledger.Entries.Aggregate(Money.Zero, (sum, e) => sum + e.Amount));
        Assert.Equal(balance.Balance, ledger.Entries[0].BalanceAfter);
    }

    [SkippableFact]
    public async Task Concurrent_first_upserts_of_a_provider_key_store_one_row_and_all_return_its_id()
    {
        var store = database.Get<IProviderKeyStore>();
        var account = NewId("acct");
        var keys = Enumerable.Range(0, 50).Select(i => new ProviderKey
        {
            Id = NewId("pk"), AccountId = account, Provider = "openai", ProtectedKey = $"payload-{i}", Masked = "sk-…abcd",
            Enabled = true, CreatedAt = Now.AddTicks(1_234_567 + i), UpdatedAt = Now.AddTicks(1_234_567 + i),
        }).ToList();

        var stored = await Task.WhenAll(keys.Select(k => Task.Run(async () => await store.UpsertAsync(k))));

        var row = Assert.Single(await store.ListAsync(account));
        Assert.All(stored, s => Assert.Equal((row.Id, row.CreatedAt), (s.Id, s.CreatedAt)));
        Assert.Contains(keys, k => k.Id == row.Id && k.CreatedAt == row.CreatedAt);
        Assert.Contains(stored, s => s == row);

        // The id belongs to the row: reusing it for another provider is refused.
        await Assert.ThrowsAsync<InvalidOperationException>(async () => await store.UpsertAsync(keys[0] with { Id = row.Id, Provider = "groq" }));
        Assert.Null(await store.FindAsync(account, "groq"));
    }

    [SkippableFact]
    public async Task A_settle_whose_hold_already_has_its_charge_in_the_ledger_is_refused_and_changes_nothing()
    {
        var (account, hold) = await ActiveHoldAsync();

        // The hold is still active, but the ledger was given its charge by hand (a restore, a manual fix gone wrong):
        // charging it again would charge the call twice.
        await database.Get<ICreditStore>().PostAsync(new LedgerPostRequest
        {
            EntryId = NewId("led"), AccountId = account, Kind = LedgerEntryKind.Charge, Amount = Money.FromUnits(-1m),
            IdempotencyKey = EfCoreCreditStore<UsageBillingDbContext>.SettleKey(hold.ReservationId), CreatedAt = Now,
        });

        await AssertBothSettlesRefusedAsync(account, hold,
            $"Reservation '{hold.ReservationId}' was active but already has a charge in the ledger.",
            "1 of 1 settled reservations already have a charge in the ledger.");
    }

    [SkippableFact]
    public async Task A_settle_on_an_account_whose_balance_row_was_deleted_is_refused_and_changes_nothing()
    {
        var (account, hold) = await ActiveHoldAsync();
        await using (var context = await database.Get<IDbContextFactory<UsageBillingDbContext>>().CreateDbContextAsync())
        {
            Assert.Equal(1, await context.Set<CreditBalanceEntity>().Where(b => b.AccountId == account).ExecuteDeleteAsync());
        }

        await AssertBothSettlesRefusedAsync(account, hold,
            $"Account '{account}' of reservation '{hold.ReservationId}' has no balance row.",
            $"Account '{account}' has reservations but no balance row.");
    }

    [SkippableFact]
    public async Task A_completion_batch_sets_its_keys_last_use_at_most_once_a_second_per_key()
    {
        var keys = database.Get<IApiKeyStore>();
        var credits = database.Get<ICreditStore>();
        var completions = database.Get<ICallCompletionStore>();
        var account = NewId("acct");
        await GrantAsync(credits, account, 10m, "g", Now);
        var key = new ApiKeyRecord
        {
            Id = NewId("key"), AccountId = account, Name = "busy", DisplayPrefix = "sk-abcd", Hash = Guid.NewGuid().ToString("N"), CreatedAt = Now,
        };
        await keys.CreateAsync(key);

        async Task<DateTimeOffset?> CallAtAsync(TimeSpan after)
        {
            var hold = await ReservedAsync(credits, account, 0.01m);
            var record = Record(account, Now + after, NewId("req")) with { KeyId = key.Id };
            var result = Assert.Single(await completions.CompleteAsync([new CallCompletion(hold.ReservationId, Money.FromUnits(0.01m), record)], Now + after));
            Assert.Equal(CompletionStatus.Completed, result.Status);
            return (await keys.FindByIdAsync(key.Id))!.LastUsedAt;
        }

        // The first call sets it; a call within the second after it does not write it again; one a full second later does.
        Assert.Equal(Now, await CallAtAsync(TimeSpan.Zero));
        Assert.Equal(Now, await CallAtAsync(TimeSpan.FromMilliseconds(999)));
        Assert.Equal(Now.AddSeconds(1), await CallAtAsync(TimeSpan.FromSeconds(1)));
        Assert.Equal(Now.AddSeconds(5), await CallAtAsync(TimeSpan.FromSeconds(5)));
    }

    [SkippableFact]
    public async Task A_completed_calls_usage_record_is_stored_column_for_column()
    {
        // Every column set (a non-ASCII idempotency key, fractional duration and cost, a large token count, every flag
        // true) and every nullable column null, through the completion's group insert (JSON rows on SQLite, arrays on PostgreSQL).
        var credits = database.Get<ICreditStore>();
        var completions = database.Get<ICallCompletionStore>();
        var account = NewId("acct");
        await GrantAsync(credits, account, 10m, "g", Now);
        var full = Record(account, Now, NewId("req")) with
        {
            KeyId = NewId("key"), Method = "POST", Route = "/v1/chat/completions", StatusCode = 201, DurationMs = 12.625, Cost = Money.FromUnits(0.012345678m),
            Outcome = UsageOutcomes.Charged, IdempotencyKey = "idem-é-1", Model = "gpt-4o-mini", InputTokens = 1_234_567_890_123, OutputTokens = 42,
            CachedInputTokens = 7, CostBreakdown = """{"input":0.01}""", TokensEstimated = true, Streamed = true, ClientAborted = true,
        };
        var sparse = Record(account, Now.AddMilliseconds(1), NewId("req")) with { Outcome = UsageOutcomes.Charged };
        var first = await ReservedAsync(credits, account, 0.02m);
        var second = await ReservedAsync(credits, account, 0.02m);

        var results = await completions.CompleteAsync(
            [new CallCompletion(first.ReservationId, full.Cost, full), new CallCompletion(second.ReservationId, sparse.Cost, sparse)], Now);

        Assert.All(results, r => Assert.Equal(CompletionStatus.Completed, r.Status));
        var stored = (await database.Get<IUsageStore>().QueryAsync(new UsageQuery { AccountId = account })).Records;
        Assert.Equal(full, stored.Single(r => r.RequestId == full.RequestId));
        Assert.Equal(sparse, stored.Single(r => r.RequestId == sparse.RequestId));
    }

    /// <summary>A new account granted 10 with an active hold of 2.</summary>
    private async Task<(string Account, CreditReservationRequest Hold)> ActiveHoldAsync()
    {
        var account = NewId("acct");
        var credits = database.Get<ICreditStore>();
        await GrantAsync(credits, account, 10m, "g", Now);
        return (account, await ReservedAsync(credits, account, 2m));
    }

    /// <summary>A hold of <paramref name="units"/> on <paramref name="account"/>, under a new key, which the store must grant.</summary>
    private protected static async Task<CreditReservationRequest> ReservedAsync(ICreditStore credits, string account, decimal units)
    {
        var hold = Hold(account, units, NewId("call"));
        Assert.Equal(ReserveStatus.Reserved, (await credits.ReserveAsync(hold)).Status);
        return hold;
    }

    /// <summary>
    /// Settles <paramref name="hold"/> through the credit store and through a completion batch: each must refuse with
    /// its message and roll back whatever it had moved (balance, hold, ledger, usage record).
    /// </summary>
    private async Task AssertBothSettlesRefusedAsync(string account, CreditReservationRequest hold, string settleMessage, string batchMessage)
    {
        var credits = database.Get<ICreditStore>();
        var before = await SnapshotAsync(credits, account, hold.ReservationId);

        var settle = await Assert.ThrowsAsync<InvalidOperationException>(async () => await credits.SettleAsync(hold.ReservationId, Money.FromUnits(1m), Now));
        Assert.Equal(settleMessage, settle.Message);
        Assert.Equal(before, await SnapshotAsync(credits, account, hold.ReservationId));

        var batch = await Assert.ThrowsAsync<InvalidOperationException>(async () => await database.Get<ICallCompletionStore>().CompleteAsync(
            [new CallCompletion(hold.ReservationId, Money.FromUnits(1m), Record(account, Now, NewId("req")))], Now));
        Assert.Equal(batchMessage, batch.Message);
        Assert.Equal(before, await SnapshotAsync(credits, account, hold.ReservationId));
        Assert.Empty((await database.Get<IUsageStore>().QueryAsync(new UsageQuery { AccountId = account })).Records);
    }

    /// <summary>What a settle may move: the balance, the hold's state and the ledger.</summary>
    private static async Task<(CreditBalance Balance, ReservationState? State, string Ledger)> SnapshotAsync(ICreditStore credits, string account, string reservationId)
        => (await credits.GetBalanceAsync(account), (await credits.FindReservationAsync(reservationId))?.State,
            string.Join(", ", (await credits.GetLedgerAsync(account, 100, null)).Entries.Select(e => $"{e.Kind} {e.Amount}")));

    private protected static UsageRecord Record(string account, DateTimeOffset at, string requestId) => new()
    {
        RequestId = requestId,
        Timestamp = at,
        AccountId = account,
        Method = "GET",
        Route = "/x",
        StatusCode = 200,
        DurationMs = 2.5,
        Cost = Money.FromUnits(0.001m),
    };

    /// <summary>Grants <paramref name="units"/> to <paramref name="account"/> under the idempotency key <paramref name="key"/>.</summary>
    private protected static ValueTask<PostResult> GrantAsync(ICreditStore credits, string account, decimal units, string key, DateTimeOffset at) => credits.PostAsync(new LedgerPostRequest
    {
        EntryId = NewId("led"), AccountId = account, Kind = LedgerEntryKind.Grant, Amount = Money.FromUnits(units), IdempotencyKey = key, CreatedAt = at,
    });

    private static CreditReservationRequest Hold(string account, decimal units, string key) => new()
    {
        ReservationId = NewId("res"), AccountId = account, Amount = Money.FromUnits(units), IdempotencyKey = key, CreatedAt = Now, ExpiresAt = Now.AddMinutes(10),
    };

    private protected static string NewId(string prefix) => $"{prefix}_{Guid.NewGuid():N}";
}

public sealed class SqliteStoreBehaviourTests(SqliteTestDatabase database) : StoreBehaviourTests(database), IClassFixture<SqliteTestDatabase>;

[Collection(PostgresTestGroup.Name)]
public sealed class PostgresStoreBehaviourTests(PostgresTestDatabase database) : StoreBehaviourTests(database), IClassFixture<PostgresTestDatabase>
{
    [SkippableFact]
    public async Task A_completion_batch_of_active_holds_is_one_round_trip_that_commits_it()
    {
        var credits = database.Get<ICreditStore>();
        var completions = database.Get<ICallCompletionStore>();
        var accounts = new[] { NewId("acct"), NewId("acct") };
        foreach (var account in accounts)
        {
            await GrantAsync(credits, account, 10m, "g", Now);
        }

        // Five calls on two accounts: four charged (one of them zero), one released.
        var holds = new List<CreditReservationRequest>();
        foreach (var account in (string[])[accounts[0], accounts[1], accounts[0], accounts[1], accounts[0]])
        {
            holds.Add(await ReservedAsync(credits, account, 2m));
        }

        var charges = new decimal?[] { 1m, 1.5m, 0.25m, null, 0m };
        var batch = holds.Select((h, i) => new CallCompletion(h.ReservationId, charges[i] is { } c ? Money.FromUnits(c) : null, Record(h.AccountId, Now, NewId("req"))))
            .ToList();

        using var trace = new System.Diagnostics.Activity("completion batch").Start();
        var roundTrips = 0;
        using var listener = new System.Diagnostics.ActivityListener
        {
            ShouldListenTo = static source => source.Name == "Npgsql",
            Sample = static (ref System.Diagnostics.ActivityCreationOptions<System.Diagnostics.ActivityContext> _) => System.Diagnostics.ActivitySamplingResult.AllData,
            ActivityStarted = activity =>
            {
                if (activity.TraceId == trace.TraceId)
                {
                    Interlocked.Increment(ref roundTrips);
                }
            },
        };
        System.Diagnostics.ActivitySource.AddActivityListener(listener);

        var results = await completions.CompleteAsync(batch, Now);

        // One command, and no transaction around it (EF Core would have sent BEGIN with it and COMMIT after it).
        Assert.Equal(1, roundTrips);
        Assert.All(results, r => Assert.Equal(CompletionStatus.Completed, r.Status));
        Assert.Equal([false, false, false, true, true], results.Select(r => r.Entry is null));

        // Committed: what other connections read. The ledger entries give the balance after each charge, in batch order.
        Assert.Equal(new CreditBalance(Money.FromUnits(10m - 1m - 0.25m), Money.Zero), await credits.GetBalanceAsync(accounts[0]));
        Assert.Equal(new CreditBalance(Money.FromUnits(10m - 1.5m), Money.Zero), await credits.GetBalanceAsync(accounts[1]));
        Assert.Equal([Money.FromUnits(9m), Money.FromUnits(8.5m), Money.FromUnits(8.75m)], results.Take(3).Select(r => r.Entry!.BalanceAfter));
        foreach (var (result, hold) in results.Zip(holds).Take(3))
        {
            var stored = (await credits.GetLedgerAsync(hold.AccountId, 100, null)).Entries.Single(e => e.ReservationId == hold.ReservationId);
            Assert.Equal(stored, result.Entry);
        }

        Assert.Equal([ReservationState.Settled, ReservationState.Settled, ReservationState.Settled, ReservationState.Released, ReservationState.Settled],
            await Task.WhenAll(holds.Select(async h => (await credits.FindReservationAsync(h.ReservationId))!.State)));
        foreach (var account in accounts)
        {
            var records = (await database.Get<IUsageStore>().QueryAsync(new UsageQuery { AccountId = account })).Records;
            Assert.Equal(batch.Where(c => c.Record!.AccountId == account).Select(c => c.Record!.RequestId).Order(), records.Select(r => r.RequestId).Order());
        }
    }
}
