using Xunit;

namespace UsageBilling.Testing;

/// <summary>
/// The behaviour every <see cref="ICallCompletionStore"/> must have, checked through the credit, usage and counter
/// stores of the same backend: a batch charges and releases exactly what it says, once however often it is written,
/// keeps the ledger equal to the balance, leaves one usage record per call, and moves the counts of each call it
/// completes once, with its charge. Derive from it and supply
/// <see cref="CreateStoresAsync"/>; every test uses fresh account ids, so one database can serve the whole class.
/// </summary>
public abstract class CallCompletionStoreSpecification
{
    private static readonly DateTimeOffset Now = new(2026, 11, 1, 12, 0, 0, TimeSpan.Zero);

    // Counters expire by the store's clock, not the batch's: a window that ends long after any run.
    private static readonly DateTimeOffset WindowEnd = new(2100, 1, 1, 0, 0, 0, TimeSpan.Zero);

    /// <summary>
    /// Creates the stores under test, all four on one backend. Records may be written asynchronously (the default
    /// store hands them to the usage log); the tests wait for them. To skip visibly, call <c>Skip.If(...)</c> here.
    /// </summary>
    protected abstract ValueTask<(ICallCompletionStore Completions, ICreditStore Credits, IUsageStore Usage, ICounterStore Counters)> CreateStoresAsync();

    [SkippableFact]
    public async Task A_batch_charges_and_releases_each_call_once_and_writes_each_record()
    {
        var (completions, credits, usage, _) = await CreateStoresAsync();
        var (a, b) = (NewId("acct"), NewId("acct"));
        await GrantAsync(credits, a, 100m);
        await GrantAsync(credits, b, 100m);
        var batch = new List<CallCompletion>
        {
            await SettleAsync(credits, a, hold: 5m, charge: 3m),
            await SettleAsync(credits, b, hold: 5m, charge: 7m),
            await SettleAsync(credits, a, hold: 2m, charge: 2m),
            await ReleaseAsync(credits, a, hold: 4m),
            await SettleAsync(credits, b, hold: 1m, charge: 0m),
        };

        var results = await completions.CompleteAsync(batch, Now);

        Assert.Equal(batch.Count, results.Count);
        Assert.All(results, r => Assert.Equal(CompletionStatus.Completed, r.Status));
        Assert.Null(results[3].Entry);
        Assert.Null(results[4].Entry);
        Assert.Equal(Money.FromUnits(-3m), results[0].Entry!.Amount);
        await AssertAccountAsync(credits, a, balance: 95m);
        await AssertAccountAsync(credits, b, balance: 93m);

        // Each hold keeps its own outcome (what an idempotent retry of the call is answered with): settled for its own charge, or released.
        foreach (var completion in batch)
        {
            var reservation = await credits.FindReservationAsync(completion.ReservationId);
            Assert.Equal(completion.Charge is null ? ReservationState.Released : ReservationState.Settled, reservation?.State);
            Assert.Equal(completion.Charge, reservation?.SettledAmount);
        }

        // Each entry's balance after is the balance once it and the entries before it were applied.
        var charges = (await credits.GetLedgerAsync(a, 10, null)).Entries.Where(e => e.Kind == LedgerEntryKind.Charge).ToList();
        Assert.Equal([Money.FromUnits(95m).Nanos, Money.FromUnits(97m).Nanos], charges.Select(e => e.BalanceAfter.Nanos).Order());

        // Each charged call is answered with its entry as the ledger keeps it (its balance after, its hold's reference).
        foreach (var (completion, result) in batch.Zip(results).Where(x => x.First.Record?.AccountId == a && x.Second.Entry is not null))
        {
            Assert.Equal(Assert.Single(charges, e => e.Id == result.Entry!.Id), result.Entry);
            Assert.Equal("ref " + completion.ReservationId, result.Entry!.Reference);
        }

        var records = await RecordsAsync(usage, a, expected: 3);
        Assert.Equal(Money.FromUnits(5m), records.Aggregate(Money.Zero, (sum, r) => sum + r.Cost));
        Assert.Equal(2, records.Count(r => r.Outcome == UsageOutcomes.Charged));
        Assert.Single(records, r => r.Outcome == UsageOutcomes.NotCharged);
        Assert.Equal(2, (await RecordsAsync(usage, b, expected: 2)).Count);
    }

    [SkippableFact]
    public async Task The_ledger_reads_as_a_running_balance_when_a_batch_completes_holds_out_of_their_order()
    {
        var (completions, credits, _, _) = await CreateStoresAsync();
        var account = NewId("acct");
        await GrantAsync(credits, account, 100m);
        var held = new List<CallCompletion>();
        foreach (var charge in (decimal[])[1m, 2m, 3m, 4m])
        {
            held.Add(await SettleAsync(credits, account, hold: 5m, charge: charge));
        }

        // Completed newest hold first: the order a batch meets its calls in is not the order they were admitted in.
        held.Reverse();
        await completions.CompleteAsync(held, Now);

        // Oldest first, each entry's balance after is the one before it plus its amount.
        var entries = (await credits.GetLedgerAsync(account, 10, null)).Entries.Reverse().ToList();
        Assert.Equal(5, entries.Count);
        for (var i = 1; i < entries.Count; i++)
        {
            Assert.Equal(entries[i - 1].BalanceAfter + entries[i].Amount, entries[i].BalanceAfter);
        }

        Assert.Equal(Money.FromUnits(90m), entries[^1].BalanceAfter);
    }

    [SkippableFact]
    public async Task A_batch_written_again_moves_no_money_and_duplicates_no_record()
    {
        var (completions, credits, usage, _) = await CreateStoresAsync();
        var account = NewId("acct");
        await GrantAsync(credits, account, 10m);
        var batch = new List<CallCompletion> { await SettleAsync(credits, account, 2m, 2m), await ReleaseAsync(credits, account, 3m) };
        await completions.CompleteAsync(batch, Now);

        var again = await completions.CompleteAsync(batch, Now);

        Assert.All(again, r => Assert.Equal(CompletionStatus.AlreadyCompleted, r.Status));
        await AssertAccountAsync(credits, account, balance: 8m);
        Assert.Equal(2, (await credits.GetLedgerAsync(account, 10, null)).Entries.Count);
        Assert.Equal(2, (await RecordsAsync(usage, account, expected: 2)).Count);
    }

    [SkippableFact]
    public async Task An_expired_hold_is_still_charged_and_a_call_without_an_active_hold_is_recorded_as_not_charged()
    {
        var (completions, credits, usage, _) = await CreateStoresAsync();
        var account = NewId("acct");
        await GrantAsync(credits, account, 10m);
        var expired = await SettleAsync(credits, account, 4m, 4m);
        var expiredRelease = await ReleaseAsync(credits, account, 1m);
        Assert.Equal(2, await credits.ExpireReservationsAsync(Now.AddHours(2), Now.AddHours(-1), 100));
        var active = await SettleAsync(credits, account, 2m, 1m);
        var unknown = new CallCompletion(NewId("res"), Money.FromUnits(1m), Record(account, NewId("req"), 1m));

        // An active and an expired hold settled in one batch: each charged once, the active one's hold given back.
        var results = await completions.CompleteAsync([expired, active, expiredRelease, unknown], Now);

        Assert.Equal([CompletionStatus.Completed, CompletionStatus.Completed, CompletionStatus.NotActive, CompletionStatus.NotActive], results.Select(r => r.Status));
        await AssertAccountAsync(credits, account, balance: 5m);
        var ledger = (await credits.GetLedgerAsync(account, 100, null)).Entries;
        Assert.Equal(Money.FromUnits(5m), ledger[0].BalanceAfter);
        foreach (var entry in results.Take(2).Select(r => r.Entry!))
        {
            // A store may charge them in either order; each result carries the entry as stored.
            Assert.Equal(ledger.Single(e => e.Id == entry.Id), entry);
        }

        var records = await RecordsAsync(usage, account, expected: 4);
        Assert.Equal(UsageOutcomes.Failed, records.Single(r => r.RequestId == unknown.Record!.RequestId).Outcome);
        Assert.Equal(Money.FromUnits(5m), records.Aggregate(Money.Zero, (sum, r) => sum + r.Cost));
    }

    [SkippableFact]
    public async Task Concurrent_batches_on_one_account_charge_and_count_every_call_exactly_once()
    {
        var (completions, credits, usage, counters) = await CreateStoresAsync();
        var account = NewId("acct");
        await GrantAsync(credits, account, 1000m);
        var (shared, own) = (NewId("cnt"), NewId("cnt"));
        var calls = new List<CallCompletion>();
        for (var i = 0; i < 120; i++)
        {
            // Each call counts once on a key every call names, and on a key of its own ten (a key several in one batch name).
            var call = i % 4 == 3 ? await ReleaseAsync(credits, account, 1m) : await SettleAsync(credits, account, 2m, 1m);
            calls.Add(call with { Counts = [new(shared, 1, WindowEnd), new(own + (i % 12), 2, WindowEnd)] });
        }

        // Twelve batches of ten at once, each written twice: a retry racing the first write of another batch.
        await Task.WhenAll(calls.Chunk(10).SelectMany(chunk => new[] { Task.Run(() => completions.CompleteAsync(chunk, Now).AsTask()), Task.Run(() => completions.CompleteAsync(chunk, Now).AsTask()) }));

        await AssertAccountAsync(credits, account, balance: 1000m - 90m);
        Assert.Equal(120, (await RecordsAsync(usage, account, expected: 120)).Count);
        var counted = await counters.GetAsync([shared, .. Enumerable.Range(0, 12).Select(i => own + i)]);
        Assert.Equal([120L, .. Enumerable.Repeat(20L, 12)], counted);
    }

    [SkippableFact]
    public async Task A_call_completed_now_moves_its_counts_once_and_answers_their_values()
    {
        var (completions, credits, _, counters) = await CreateStoresAsync();
        var account = NewId("acct");
        await GrantAsync(credits, account, 100m);
        var (tokens, spend, shared) = (NewId("cnt"), NewId("cnt"), NewId("cnt"));
        await counters.IncrementAsync([new(tokens, 10, WindowEnd), new(spend, 5, WindowEnd), new(shared, 10, WindowEnd)]);
        var batch = new List<CallCompletion>
        {
            (await SettleAsync(credits, account, 2m, 1m)) with { Counts = [new(tokens, -3, WindowEnd), new(spend, 2, WindowEnd)] },
            (await SettleAsync(credits, account, 2m, 1m)) with { Counts = [new(shared, -1, WindowEnd)] },
            (await ReleaseAsync(credits, account, 1m)) with { Counts = [new(shared, -5, WindowEnd)] },
            await SettleAsync(credits, account, 1m, 1m),
            new CallCompletion(NewId("res"), Money.FromUnits(1m), Record(account, NewId("req"), 1m), [new(tokens, 100, WindowEnd)]),
        };

        var results = await completions.CompleteAsync(batch, Now);

        // Moved with the calls completed, each answered its counters' values after its counts (a key two calls name: after
        // the first's or after both); the call without an active hold moved nothing.
        Assert.Equal([CompletionStatus.Completed, CompletionStatus.Completed, CompletionStatus.Completed, CompletionStatus.Completed, CompletionStatus.NotActive],
            results.Select(r => r.Status));
        Assert.Equal([7L, 7L], results[0].Counted);
        Assert.Contains(Assert.Single(results[1].Counted!), (long[])[9L, 4L]);
        Assert.Equal([4L], results[2].Counted);
        Assert.Null(results[3].Counted);
        Assert.Null(results[4].Counted);
        var counted = await counters.GetAsync([tokens, spend, shared]);
        Assert.Equal([7L, 7L, 4L], counted);

        // Written again: completed before, so nothing moves again and no values are answered.
        var again = await completions.CompleteAsync(batch, Now);

        Assert.All(again, r => Assert.Null(r.Counted));
        counted = await counters.GetAsync([tokens, spend, shared]);
        Assert.Equal([7L, 7L, 4L], counted);
        await AssertAccountAsync(credits, account, balance: 97m);
    }

    private static async Task AssertAccountAsync(ICreditStore credits, string account, decimal balance)
    {
        var current = await credits.GetBalanceAsync(account);
        Assert.Equal(Money.FromUnits(balance), current.Balance);
        Assert.Equal(Money.Zero, current.Reserved);
        var sum = Money.Zero;
        string? cursor = null;
        do
        {
            var page = await credits.GetLedgerAsync(account, 100, cursor);
            sum = page.Entries.Aggregate(sum, (s, e) => s + e.Amount);
            cursor = page.NextCursor;
        }
        while (cursor is not null);

        Assert.Equal(current.Balance, sum);
    }

    private static async Task<IReadOnlyList<UsageRecord>> RecordsAsync(IUsageStore usage, string account, int expected)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (true)
        {
            var records = (await usage.QueryAsync(new UsageQuery { AccountId = account, Limit = 1000 })).Records;
            if (records.Count >= expected || DateTime.UtcNow > deadline)
            {
                return records;
            }

            await Task.Delay(20);
        }
    }

    private static Task GrantAsync(ICreditStore credits, string account, decimal amount) => SpecificationCredits.GrantAsync(credits, account, amount, Now);

    private static async Task<CallCompletion> SettleAsync(ICreditStore credits, string account, decimal hold, decimal charge)
    {
        var id = await HoldAsync(credits, account, hold);
        return new CallCompletion(id, Money.FromUnits(charge), Record(account, NewId("req"), charge));
    }

    private static async Task<CallCompletion> ReleaseAsync(ICreditStore credits, string account, decimal hold)
        => new(await HoldAsync(credits, account, hold), null, Record(account, NewId("req"), 0m) with { Outcome = UsageOutcomes.NotCharged });

    private static async Task<string> HoldAsync(ICreditStore credits, string account, decimal amount)
    {
        var hold = SpecificationCredits.NewHold(account, amount, Now);
        hold = hold with { Reference = "ref " + hold.ReservationId };
        var reserved = await credits.ReserveAsync(hold);
        Assert.Equal(ReserveStatus.Reserved, reserved.Status);
        return hold.ReservationId;
    }

    private static UsageRecord Record(string account, string requestId, decimal cost) => new()
    {
        RequestId = requestId,
        Timestamp = Now,
        AccountId = account,
        Method = "GET",
        Route = "/x",
        StatusCode = 200,
        DurationMs = 1,
        Cost = Money.FromUnits(cost),
        Outcome = UsageOutcomes.Charged,
    };

    private static string NewId(string prefix) => SpecificationCredits.NewId(prefix);
}
