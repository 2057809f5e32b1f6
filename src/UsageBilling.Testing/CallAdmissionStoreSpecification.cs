using Xunit;

namespace UsageBilling.Testing;

/// <summary>
/// The behaviour every <see cref="ICallAdmissionStore"/> that admits in one step must have, checked through the credit
/// and counter stores of the same backend: a group is decided in order, each call seeing the counts of the calls
/// admitted before it; only admitted calls keep counts and holds; a call the store does not handle keeps nothing; and
/// concurrent groups never hold more than an account has. Derive from it and supply <see cref="CreateStoresAsync"/>;
/// every test uses fresh account ids and counter keys, so one database can serve the whole class.
/// </summary>
public abstract class CallAdmissionStoreSpecification
{
    private static readonly DateTimeOffset Now = new(2026, 11, 1, 12, 0, 0, TimeSpan.Zero);

    // Counters outlive the test in real time: a store may delete expired ones in the background.
    private static DateTimeOffset CounterExpiry => DateTimeOffset.UtcNow.AddHours(1);

    /// <summary>Creates the stores under test, all three on one backend. To skip visibly, call <c>Skip.If(...)</c> here.</summary>
    protected abstract ValueTask<(ICallAdmissionStore Admissions, ICreditStore Credits, ICounterStore Counters)> CreateStoresAsync();

    [SkippableFact]
    public async Task A_group_is_decided_in_order_and_each_call_sees_the_calls_admitted_before_it()
    {
        var (admissions, credits, counters) = await CreateStoresAsync();
        var account = NewId("acct");
        var counter = NewId("rpm");
        await GrantAsync(credits, account, 100m);
        var calls = Enumerable.Range(0, 5).Select(_ => Call(account, 2m, counter, limit: 3)).ToList();

        var results = await admissions.TryAdmitAsync(calls);

        Assert.Equal(
            [CallAdmissionStatus.Admitted, CallAdmissionStatus.Admitted, CallAdmissionStatus.Admitted, CallAdmissionStatus.Refused, CallAdmissionStatus.Refused],
            results.Select(r => r.Status));

        // The refused calls saw the three admitted ones and themselves, never each other.
        Assert.Equal([1L, 2L, 3L, 4L, 4L], results.Select(r => Assert.Single(r.Counts)));
        Assert.Equal(3, (await counters.GetAsync([counter]))[0]);
        Assert.Equal(new CreditBalance(Money.FromUnits(100m), Money.FromUnits(6m)), await credits.GetBalanceAsync(account));
        for (var i = 0; i < calls.Count; i++)
        {
            var found = await credits.FindReservationAsync(calls[i].Reservation.ReservationId);
            if (i < 3)
            {
                Assert.Equal(ReservationState.Active, found?.State);
                Assert.Equal(calls[i].Reservation.ReservationId, results[i].Reservation?.Id);
                Assert.Equal(Money.FromUnits(2m), results[i].Reservation?.Amount);
            }
            else
            {
                Assert.Null(found);
            }
        }
    }

    [SkippableFact]
    public async Task Calls_counting_several_counters_see_only_the_admitted_calls_and_a_refused_calls_counts_and_hold_are_given_back()
    {
        var (admissions, credits, counters) = await CreateStoresAsync();
        var (account, other) = (NewId("acct"), NewId("acct"));
        var (requests, tokens, otherRequests) = (NewId("rpm"), NewId("tpm"), NewId("rpm"));
        await GrantAsync(credits, account, 100m);
        await GrantAsync(credits, other, 100m);
        CallAdmissionRequest LlmCall(long estimate, decimal amount) => Call(account, amount, [(requests, 1, 100), (tokens, estimate, 1000)]);
        var calls = new[]
        {
            LlmCall(400, 2m), Call(other, 5m, [(otherRequests, 1, 100)]), LlmCall(400, 2m), LlmCall(400, 2m), LlmCall(100, 3m),
        };

        var results = await admissions.TryAdmitAsync(calls);

        // The third call of the account would take the token window to 1,200; the last one fits in what is left.
        Assert.Equal(
            [CallAdmissionStatus.Admitted, CallAdmissionStatus.Admitted, CallAdmissionStatus.Admitted, CallAdmissionStatus.Refused, CallAdmissionStatus.Admitted],
            results.Select(r => r.Status));
        Assert.Equal([1L, 400L], results[0].Counts);
        Assert.Equal([1L], results[1].Counts);
        Assert.Equal([2L, 800L], results[2].Counts);
        Assert.Equal([3L, 1200L], results[3].Counts);
        Assert.Equal([3L, 900L], results[4].Counts);

        Assert.Equal(new long[] { 3, 900, 1 }, await counters.GetAsync([requests, tokens, otherRequests]));
        Assert.Equal(new CreditBalance(Money.FromUnits(100m), Money.FromUnits(7m)), await credits.GetBalanceAsync(account));
        Assert.Equal(new CreditBalance(Money.FromUnits(100m), Money.FromUnits(5m)), await credits.GetBalanceAsync(other));
        Assert.Null(await credits.FindReservationAsync(calls[3].Reservation.ReservationId));
        foreach (var i in new[] { 0, 1, 2, 4 })
        {
            Assert.Equal(ReservationState.Active, (await credits.FindReservationAsync(calls[i].Reservation.ReservationId))?.State);
        }
    }

    [SkippableFact]
    public async Task An_account_its_calls_may_overdraw_keeps_none_of_them_and_other_accounts_calls_are_admitted()
    {
        var (admissions, credits, counters) = await CreateStoresAsync();
        var (poor, rich) = (NewId("acct"), NewId("acct"));
        var (poorCounter, richCounter) = (NewId("rpm"), NewId("rpm"));
        await GrantAsync(credits, poor, 2m);
        await GrantAsync(credits, rich, 10m);
        var calls = new[]
        {
            Call(poor, 1m, poorCounter), Call(rich, 1m, richCounter), Call(poor, 1m, poorCounter), Call(poor, 1m, poorCounter),
        };

        var results = await admissions.TryAdmitAsync(calls);

        Assert.Equal(CallAdmissionStatus.Admitted, results[1].Status);
        int[] poorCalls = [0, 2, 3];
        foreach (var i in poorCalls)
        {
            // Not handled here: the separate stores hold what is available, call by call. Or admitted, if the store can tell exactly.
            if (results[i].Status == CallAdmissionStatus.NotHandled)
            {
                Assert.Null(await credits.FindReservationAsync(calls[i].Reservation.ReservationId));
            }
        }

        var admittedPoor = poorCalls.Count(i => results[i].Status == CallAdmissionStatus.Admitted);
        Assert.True(admittedPoor <= 2, "more calls were held than the balance covers");
        Assert.Equal(new CreditBalance(Money.FromUnits(2m), Money.FromUnits(admittedPoor)), await credits.GetBalanceAsync(poor));
        Assert.Equal(new CreditBalance(Money.FromUnits(10m), Money.FromUnits(1m)), await credits.GetBalanceAsync(rich));
        Assert.Equal(new long[] { admittedPoor, 1 }, await counters.GetAsync([poorCounter, richCounter]));
    }

    [SkippableFact]
    public async Task Calls_of_one_account_whose_holds_together_pass_what_any_balance_can_hold_keep_nothing_and_other_accounts_calls_are_admitted()
    {
        var (admissions, credits, counters) = await CreateStoresAsync();
        var (huge, small) = (NewId("acct"), NewId("acct"));
        var (hugeCounter, smallCounter) = (NewId("rpm"), NewId("rpm"));
        await GrantAsync(credits, huge, 100m);
        await GrantAsync(credits, small, 10m);

        // Ten holds of the largest balance each: together more than a 64-bit amount, so they must not wrap around to a small hold.
        var max = CreditBalance.MaxBalance.ToUnits();
        var calls = Enumerable.Range(0, 10).Select(_ => Call(huge, max, hugeCounter)).Append(Call(small, 1m, smallCounter)).ToList();

        var results = await admissions.TryAdmitAsync(calls);

        Assert.All(results.Take(10), r => Assert.NotEqual(CallAdmissionStatus.Admitted, r.Status));
        Assert.Equal(CallAdmissionStatus.Admitted, results[10].Status);
        Assert.Equal(new CreditBalance(Money.FromUnits(100m), Money.Zero), await credits.GetBalanceAsync(huge));
        Assert.Equal(new CreditBalance(Money.FromUnits(10m), Money.FromUnits(1m)), await credits.GetBalanceAsync(small));
        Assert.Equal(new long[] { 0, 1 }, await counters.GetAsync([hugeCounter, smallCounter]));
        foreach (var call in calls.Take(10))
        {
            Assert.Null(await credits.FindReservationAsync(call.Reservation.ReservationId));
        }
    }

    [SkippableFact]
    public async Task A_key_that_exists_or_repeats_in_the_group_keeps_nothing_of_that_call()
    {
        var (admissions, credits, counters) = await CreateStoresAsync();
        var account = NewId("acct");
        var counter = NewId("rpm");
        await GrantAsync(credits, account, 10m);
        var existing = Call(account, 1m, counter) with { Increments = [] };
        Assert.Equal(ReserveStatus.Reserved, (await credits.ReserveAsync(existing.Reservation)).Status);
        var again = Call(account, 1m, counter, key: existing.Reservation.IdempotencyKey);
        var first = Call(account, 2m, counter);
        var repeated = Call(account, 2m, counter, key: first.Reservation.IdempotencyKey);

        var results = await admissions.TryAdmitAsync([again, first, repeated]);

        Assert.Equal([CallAdmissionStatus.NotHandled, CallAdmissionStatus.Admitted, CallAdmissionStatus.NotHandled], results.Select(r => r.Status));
        Assert.Null(await credits.FindReservationAsync(again.Reservation.ReservationId));
        Assert.Null(await credits.FindReservationAsync(repeated.Reservation.ReservationId));
        Assert.Equal(ReservationState.Active, (await credits.FindReservationAsync(first.Reservation.ReservationId))?.State);
        Assert.Equal(new CreditBalance(Money.FromUnits(10m), Money.FromUnits(3m)), await credits.GetBalanceAsync(account));
        Assert.Equal(1, (await counters.GetAsync([counter]))[0]);
    }

    [SkippableFact]
    public async Task A_group_that_admits_no_call_keeps_nothing()
    {
        var (admissions, credits, counters) = await CreateStoresAsync();
        var account = NewId("acct");
        var counter = NewId("rpm");
        await GrantAsync(credits, account, 10m);
        await counters.IncrementAsync([new CounterIncrement(counter, 5, CounterExpiry)]);
        var calls = new[] { Call(account, 1m, counter, limit: 5), Call(account, 1m, counter, limit: 5) };

        var results = await admissions.TryAdmitAsync(calls);

        Assert.All(results, r => Assert.Equal(CallAdmissionStatus.Refused, r.Status));
        Assert.Equal([6L, 6L], results.Select(r => Assert.Single(r.Counts)));
        Assert.Equal(5, (await counters.GetAsync([counter]))[0]);
        Assert.Equal(new CreditBalance(Money.FromUnits(10m), Money.Zero), await credits.GetBalanceAsync(account));
        foreach (var call in calls)
        {
            Assert.Null(await credits.FindReservationAsync(call.Reservation.ReservationId));
        }
    }

    [SkippableFact]
    public async Task Concurrent_groups_on_one_account_never_hold_more_than_its_balance_and_keep_counts_only_of_admitted_calls()
    {
        var (admissions, credits, counters) = await CreateStoresAsync();
        var account = NewId("acct");
        var counter = NewId("rpm");
        await GrantAsync(credits, account, 50m);

        // 20 groups of 10 calls race for 50 units; the limit lets 150 calls through, so credit is what runs out.
        var groups = Enumerable.Range(0, 20).Select(_ => Enumerable.Range(0, 10).Select(_ => Call(account, 1m, counter, limit: 150)).ToList()).ToList();
        var results = await Task.WhenAll(groups.Select(g => Task.Run(async () => await admissions.TryAdmitAsync(g))));

        var admitted = results.SelectMany(r => r).Count(r => r.Status == CallAdmissionStatus.Admitted);
        var balance = await credits.GetBalanceAsync(account);
        Assert.True(balance.Reserved <= balance.Balance, $"held {balance.Reserved} of {balance.Balance}");
        Assert.Equal(Money.FromUnits(admitted), balance.Reserved);
        Assert.Equal(admitted, (await counters.GetAsync([counter]))[0]);
        for (var g = 0; g < groups.Count; g++)
        {
            for (var i = 0; i < groups[g].Count; i++)
            {
                var found = await credits.FindReservationAsync(groups[g][i].Reservation.ReservationId);
                Assert.Equal(results[g][i].Status == CallAdmissionStatus.Admitted, found is not null);
            }
        }
    }

    /// <summary>A call holding <paramref name="amount"/> and counting 1 on <paramref name="counter"/>, admitted while the count stays within <paramref name="limit"/>.</summary>
    private static CallAdmissionRequest Call(string account, decimal amount, string counter, long limit = long.MaxValue, string? key = null)
    {
        var hold = SpecificationCredits.NewHold(account, amount, Now);
        return new CallAdmissionRequest([new CounterIncrement(counter, 1, CounterExpiry)], counts => counts[0] <= limit,
            key is null ? hold : hold with { IdempotencyKey = key });
    }

    /// <summary>A call holding <paramref name="amount"/> and adding each delta to its counter, admitted while every counter stays within its limit.</summary>
    private static CallAdmissionRequest Call(string account, decimal amount, (string Counter, long Delta, long Limit)[] counts)
        => new(
            [.. counts.Select(c => new CounterIncrement(c.Counter, c.Delta, CounterExpiry))],
            values => values.Select((value, i) => value <= counts[i].Limit).All(static ok => ok),
            SpecificationCredits.NewHold(account, amount, Now));

    private static Task GrantAsync(ICreditStore credits, string account, decimal amount) => SpecificationCredits.GrantAsync(credits, account, amount, Now);

    private static string NewId(string prefix) => SpecificationCredits.NewId(prefix);
}
