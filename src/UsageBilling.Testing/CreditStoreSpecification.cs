using Xunit;

namespace UsageBilling.Testing;

/// <summary>
/// The behaviour every <see cref="ICreditStore"/> must have. Derive from it in a test project and supply
/// <see cref="CreateStoreAsync"/>; every test uses fresh account ids, so one database can serve the whole class.
/// </summary>
public abstract class CreditStoreSpecification
{
    private static readonly DateTimeOffset Now = new(2026, 11, 1, 12, 0, 0, TimeSpan.Zero);

    /// <summary>
    /// Creates the store under test. It may share state with stores created earlier in the class. To skip the class
    /// visibly when its backend is not available, call <c>Skip.If(...)</c> (Xunit.SkippableFact) here.
    /// </summary>
    protected abstract ValueTask<ICreditStore> CreateStoreAsync();

    /// <summary>How many operations the concurrency tests run at once (override to lower it for a slow backend).</summary>
    protected virtual int Concurrency => 1000;

    [SkippableFact]
    public async Task An_account_without_money_moves_has_a_zero_balance()
    {
        var store = await CreateStoreAsync();
        var balance = await store.GetBalanceAsync(NewAccountId());
        Assert.Equal(default, balance);
        var ledger = await store.GetLedgerAsync(NewAccountId(), 10, null);
        Assert.Empty(ledger.Entries);
        Assert.Null(ledger.NextCursor);
    }

    [SkippableFact]
    public async Task A_grant_adds_to_the_balance_and_writes_one_ledger_entry()
    {
        var store = await CreateStoreAsync();
        var account = NewAccountId();
        var result = await store.PostAsync(Grant(account, 12.5m, "g1"));

        Assert.Equal(PostStatus.Posted, result.Status);
        var entry = Assert.IsType<LedgerEntry>(result.Entry);
        Assert.Equal(Units(12.5m), entry.Amount);
        Assert.Equal(Units(12.5m), entry.BalanceAfter);
        Assert.Equal(LedgerEntryKind.Grant, entry.Kind);
        Assert.Equal("g1", entry.IdempotencyKey);
        Assert.Equal(account, entry.AccountId);
        Assert.Equal(Units(12.5m), (await store.GetBalanceAsync(account)).Balance);
        var ledger = await store.GetLedgerAsync(account, 10, null);
        var stored = Assert.Single(ledger.Entries);
        Assert.Equal(entry.Id, stored.Id);
        Assert.Equal("for a test", stored.Reason);
    }

    [SkippableFact]
    public async Task Amounts_keep_nano_unit_precision()
    {
        var store = await CreateStoreAsync();
        var account = NewAccountId();
        await store.PostAsync(Grant(account, 0.000000001m, "tiny"));
        await store.PostAsync(Grant(account, 1234567.123456789m, "big"));
        Assert.Equal(Units(1234567.12345679m), (await store.GetBalanceAsync(account)).Balance);
    }

    [SkippableFact]
    public async Task The_same_idempotency_key_moves_money_once()
    {
        var store = await CreateStoreAsync();
        var account = NewAccountId();
        var first = await store.PostAsync(Grant(account, 10m, "same"));
        var second = await store.PostAsync(Grant(account, 10m, "same") with { EntryId = NewId("led") });

        Assert.Equal(PostStatus.Posted, first.Status);
        Assert.Equal(PostStatus.Duplicate, second.Status);
        Assert.Equal(first.Entry!.Id, second.Entry!.Id);
        Assert.Equal(Units(10m), (await store.GetBalanceAsync(account)).Balance);
        Assert.Single((await store.GetLedgerAsync(account, 10, null)).Entries);
    }

    [SkippableFact]
    public async Task Idempotency_keys_are_per_account()
    {
        var store = await CreateStoreAsync();
        var (a, b) = (NewAccountId(), NewAccountId());
        Assert.Equal(PostStatus.Posted, (await store.PostAsync(Grant(a, 1m, "shared"))).Status);
        Assert.Equal(PostStatus.Posted, (await store.PostAsync(Grant(b, 2m, "shared"))).Status);
        Assert.Equal(Units(1m), (await store.GetBalanceAsync(a)).Balance);
        Assert.Equal(Units(2m), (await store.GetBalanceAsync(b)).Balance);
    }

    [SkippableFact]
    public async Task A_negative_adjustment_cannot_take_the_available_balance_below_zero()
    {
        var store = await CreateStoreAsync();
        var account = NewAccountId();
        await store.PostAsync(Grant(account, 5m, "g"));
        await store.ReserveAsync(Reserve(account, 2m, "r"));

        var refused = await store.PostAsync(Post(account, LedgerEntryKind.Adjustment, -3.5m, "adj"));
        Assert.Equal(PostStatus.InsufficientCredit, refused.Status);
        Assert.Equal(new CreditBalance(Units(5m), Units(2m)), await store.GetBalanceAsync(account));

        var allowed = await store.PostAsync(Post(account, LedgerEntryKind.Adjustment, -3m, "adj2"));
        Assert.Equal(PostStatus.Posted, allowed.Status);
        Assert.Equal(Units(2m), allowed.Entry!.BalanceAfter);
    }

    [SkippableFact]
    public async Task A_direct_charge_that_does_not_require_balance_may_go_negative()
    {
        var store = await CreateStoreAsync();
        var account = NewAccountId();
        await store.PostAsync(Grant(account, 1m, "g"));
        var charge = await store.PostAsync(Post(account, LedgerEntryKind.Charge, -3m, "usage-1") with { RequireAvailableBalance = false });

        Assert.Equal(PostStatus.Posted, charge.Status);
        Assert.Equal(Units(-2m), (await store.GetBalanceAsync(account)).Balance);
        var reserve = await store.ReserveAsync(Reserve(account, 0m, "after-debt"));
        Assert.Equal(ReserveStatus.InsufficientCredit, reserve.Status);
    }

    [SkippableFact]
    public async Task A_post_that_would_take_the_balance_past_the_maximum_is_refused_and_moves_nothing()
    {
        var store = await CreateStoreAsync();
        var account = NewAccountId();
        var max = CreditBalance.MaxBalance.ToUnits();
        Assert.Equal(PostStatus.Posted, (await store.PostAsync(Grant(account, max - 1m, "near-max"))).Status);

        // One unit more reaches the maximum exactly; anything beyond is refused, however large.
        Assert.Equal(PostStatus.Posted, (await store.PostAsync(Grant(account, 1m, "to-max"))).Status);
        Assert.Equal(PostStatus.LimitExceeded, (await store.PostAsync(Grant(account, 0.000000001m, "past-max"))).Status);
        Assert.Equal(PostStatus.LimitExceeded, (await store.PostAsync(Grant(account, 9_000_000_000m, "overflow"))).Status);
        Assert.Equal(PostStatus.LimitExceeded, (await store.PostAsync(Grant(account, 9_000_000_000m, "overflow-again"))).Status);

        var balance = await store.GetBalanceAsync(account);
        Assert.Equal(CreditBalance.MaxBalance, balance.Balance);
        Assert.Equal(balance.Balance, await LedgerSumAsync(store, account));
        Assert.Equal(2, (await store.GetLedgerAsync(account, 10, null)).Entries.Count);

        // A refused key was not used up: the same key posts once the amount fits.
        Assert.Equal(PostStatus.Posted, (await store.PostAsync(Post(account, LedgerEntryKind.Adjustment, -5m, "down"))).Status);
        Assert.Equal(PostStatus.Posted, (await store.PostAsync(Grant(account, 1m, "past-max"))).Status);
        Assert.Equal(CreditBalance.MaxBalance - Units(4m), (await store.GetBalanceAsync(account)).Balance);
    }

    [SkippableFact]
    public async Task A_charge_that_would_take_the_balance_below_the_negative_maximum_is_refused()
    {
        var store = await CreateStoreAsync();
        var account = NewAccountId();
        var refused = await store.PostAsync(Post(account, LedgerEntryKind.Charge, -9_000_000_000m, "huge-charge") with { RequireAvailableBalance = false });
        Assert.Equal(PostStatus.LimitExceeded, refused.Status);
        Assert.Null(refused.Entry);
        Assert.Equal(Money.Zero, (await store.GetBalanceAsync(account)).Balance);
        Assert.Empty((await store.GetLedgerAsync(account, 10, null)).Entries);
    }

    [SkippableFact]
    public async Task A_charge_may_take_the_balance_to_exactly_the_negative_maximum_and_not_one_nano_past_it()
    {
        var store = await CreateStoreAsync();
        var account = NewAccountId();
        var max = CreditBalance.MaxBalance.ToUnits();

        // The bound holds in both directions and is inclusive: a debt of exactly the maximum is a valid balance.
        var floor = await store.PostAsync(Post(account, LedgerEntryKind.Charge, -max, "to-floor") with { RequireAvailableBalance = false });
        Assert.Equal(PostStatus.Posted, floor.Status);
        Assert.Equal(-CreditBalance.MaxBalance, floor.Entry!.BalanceAfter);
        var past = await store.PostAsync(Post(account, LedgerEntryKind.Charge, -0.000000001m, "past-floor") with { RequireAvailableBalance = false });
        Assert.Equal(PostStatus.LimitExceeded, past.Status);
        Assert.Null(past.Entry);

        Assert.Equal(-CreditBalance.MaxBalance, (await store.GetBalanceAsync(account)).Balance);
        Assert.Single((await store.GetLedgerAsync(account, 10, null)).Entries);
    }

    [SkippableFact]
    public async Task A_reservation_holds_credit_without_moving_the_balance()
    {
        var store = await CreateStoreAsync();
        var account = NewAccountId();
        await store.PostAsync(Grant(account, 10m, "g"));
        var result = await store.ReserveAsync(Reserve(account, 4m, "r1", "GET /x"));

        Assert.Equal(ReserveStatus.Reserved, result.Status);
        var reservation = result.Reservation!;
        Assert.Equal(ReservationState.Active, reservation.State);
        Assert.Equal(Units(4m), reservation.Amount);
        Assert.Equal("GET /x", reservation.Reference);
        var balance = await store.GetBalanceAsync(account);
        Assert.Equal(Units(10m), balance.Balance);
        Assert.Equal(Units(4m), balance.Reserved);
        Assert.Equal(Units(6m), balance.Available);
        Assert.Equal(reservation, await store.FindReservationAsync(reservation.Id));
    }

    [SkippableFact]
    public async Task A_reservation_larger_than_the_available_balance_is_refused()
    {
        var store = await CreateStoreAsync();
        var account = NewAccountId();
        await store.PostAsync(Grant(account, 10m, "g"));
        await store.ReserveAsync(Reserve(account, 6m, "r1"));

        var refused = await store.ReserveAsync(Reserve(account, 4.000000001m, "r2"));
        Assert.Equal(ReserveStatus.InsufficientCredit, refused.Status);
        Assert.Null(refused.Reservation);
        Assert.Equal(Units(6m), (await store.GetBalanceAsync(account)).Reserved);

        var exact = await store.ReserveAsync(Reserve(account, 4m, "r3"));
        Assert.Equal(ReserveStatus.Reserved, exact.Status);
        Assert.Equal(Money.Zero, (await store.GetBalanceAsync(account)).Available);
    }

    [SkippableFact]
    public async Task The_same_reservation_key_holds_once()
    {
        var store = await CreateStoreAsync();
        var account = NewAccountId();
        await store.PostAsync(Grant(account, 10m, "g"));
        var first = await store.ReserveAsync(Reserve(account, 3m, "same", "GET /a"));
        var second = await store.ReserveAsync(Reserve(account, 3m, "same", "GET /a"));

        Assert.Equal(ReserveStatus.Duplicate, second.Status);
        Assert.Equal(first.Reservation!.Id, second.Reservation!.Id);
        Assert.Equal(ReservationState.Active, second.Reservation.State);
        Assert.Equal(Units(3m), (await store.GetBalanceAsync(account)).Reserved);
    }

    [SkippableFact]
    public async Task A_retried_reservation_key_finds_its_own_reservation_never_another_of_the_account_or_another_account()
    {
        var store = await CreateStoreAsync();
        var account = NewAccountId();
        var other = NewAccountId();
        await store.PostAsync(Grant(account, 10m, "g"));
        await store.PostAsync(Grant(other, 10m, "g"));
        var first = await store.ReserveAsync(Reserve(account, 1m, "first", "GET /first"));
        var shared = await store.ReserveAsync(Reserve(other, 2m, "shared", "GET /other"));
        var second = await store.ReserveAsync(Reserve(account, 3m, "shared", "GET /mine"));
        Assert.Equal(ReserveStatus.Reserved, second.Status);

        var retried = await store.ReserveAsync(Reserve(account, 3m, "shared", "GET /mine"));
        var retriedOther = await store.ReserveAsync(Reserve(other, 2m, "shared", "GET /other"));

        Assert.Equal(ReserveStatus.Duplicate, retried.Status);
        Assert.Equal(second.Reservation!.Id, retried.Reservation!.Id);
        Assert.Equal(account, retried.Reservation.AccountId);
        Assert.Equal("GET /mine", retried.Reservation.Reference);
        Assert.Equal(ReserveStatus.Duplicate, retriedOther.Status);
        Assert.Equal(shared.Reservation!.Id, retriedOther.Reservation!.Id);
        Assert.NotEqual(first.Reservation!.Id, retried.Reservation.Id);
        Assert.Equal(Units(4m), (await store.GetBalanceAsync(account)).Reserved);
        Assert.Equal(Units(2m), (await store.GetBalanceAsync(other)).Reserved);
    }

    [SkippableFact]
    public async Task Settling_charges_the_actual_amount_and_releases_the_rest()
    {
        var store = await CreateStoreAsync();
        var account = NewAccountId();
        await store.PostAsync(Grant(account, 10m, "g"));
        var reservation = (await store.ReserveAsync(Reserve(account, 4m, "r", "POST /v1/chat"))).Reservation!;

        var settled = await store.SettleAsync(reservation.Id, Units(1.25m), Now);
        Assert.Equal(SettleStatus.Settled, settled.Status);
        var entry = settled.Entry!;
        Assert.Equal(LedgerEntryKind.Charge, entry.Kind);
        Assert.Equal(Units(-1.25m), entry.Amount);
        Assert.Equal(Units(8.75m), entry.BalanceAfter);
        Assert.Equal(reservation.Id, entry.ReservationId);
        Assert.Equal("POST /v1/chat", entry.Reference);
        Assert.Equal(new CreditBalance(Units(8.75m), Money.Zero), await store.GetBalanceAsync(account));
        var stored = await store.FindReservationAsync(reservation.Id);
        Assert.Equal(ReservationState.Settled, stored!.State);
        Assert.Equal(Units(1.25m), stored.SettledAmount);
    }

    [SkippableFact]
    public async Task Settling_twice_charges_once()
    {
        var store = await CreateStoreAsync();
        var account = NewAccountId();
        await store.PostAsync(Grant(account, 10m, "g"));
        var reservation = (await store.ReserveAsync(Reserve(account, 4m, "r"))).Reservation!;

        var first = await store.SettleAsync(reservation.Id, Units(2m), Now);
        var second = await store.SettleAsync(reservation.Id, Units(3m), Now);
        Assert.Equal(SettleStatus.Settled, first.Status);
        Assert.Equal(SettleStatus.AlreadySettled, second.Status);
        Assert.Equal(Units(8m), (await store.GetBalanceAsync(account)).Balance);
        Assert.Equal(2, (await store.GetLedgerAsync(account, 10, null)).Entries.Count);
    }

    [SkippableFact]
    public async Task Settling_for_more_than_was_held_charges_the_actual_amount()
    {
        var store = await CreateStoreAsync();
        var account = NewAccountId();
        await store.PostAsync(Grant(account, 1m, "g"));
        var reservation = (await store.ReserveAsync(Reserve(account, 1m, "r"))).Reservation!;

        await store.SettleAsync(reservation.Id, Units(1.5m), Now);
        Assert.Equal(new CreditBalance(Units(-0.5m), Money.Zero), await store.GetBalanceAsync(account));
    }

    [SkippableFact]
    public async Task Settling_for_zero_writes_no_entry()
    {
        var store = await CreateStoreAsync();
        var account = NewAccountId();
        await store.PostAsync(Grant(account, 1m, "g"));
        var reservation = (await store.ReserveAsync(Reserve(account, 1m, "r"))).Reservation!;

        var settled = await store.SettleAsync(reservation.Id, Money.Zero, Now);
        Assert.Equal(SettleStatus.Settled, settled.Status);
        Assert.Null(settled.Entry);
        Assert.Equal(new CreditBalance(Units(1m), Money.Zero), await store.GetBalanceAsync(account));
        Assert.Single((await store.GetLedgerAsync(account, 10, null)).Entries);
    }

    [SkippableFact]
    public async Task Releasing_removes_the_hold_once_and_then_nothing_can_be_settled()
    {
        var store = await CreateStoreAsync();
        var account = NewAccountId();
        await store.PostAsync(Grant(account, 5m, "g"));
        var reservation = (await store.ReserveAsync(Reserve(account, 5m, "r"))).Reservation!;

        Assert.True(await store.ReleaseAsync(reservation.Id, Now));
        Assert.False(await store.ReleaseAsync(reservation.Id, Now));
        Assert.Equal(SettleStatus.NotActive, (await store.SettleAsync(reservation.Id, Units(1m), Now)).Status);
        Assert.Equal(new CreditBalance(Units(5m), Money.Zero), await store.GetBalanceAsync(account));
        Assert.Equal(ReservationState.Released, (await store.FindReservationAsync(reservation.Id))!.State);
        Assert.False(await store.ReleaseAsync(NewId("res"), Now));
        Assert.Equal(SettleStatus.NotActive, (await store.SettleAsync(NewId("res"), Units(1m), Now)).Status);
    }

    [SkippableFact]
    public async Task A_released_or_expired_reservation_is_never_revived()
    {
        var store = await CreateStoreAsync();
        var account = NewAccountId();
        await store.PostAsync(Grant(account, 5m, "g"));
        var released = (await store.ReserveAsync(Reserve(account, 2m, "retry", "GET /a"))).Reservation!;
        await store.ReleaseAsync(released.Id, Now);
        var expired = (await store.ReserveAsync(Reserve(account, 1m, "late", "GET /a") with { ExpiresAt = Now.AddMinutes(-1) })).Reservation!;
        await ExpireAllAsync(store, Now);

        var again = await store.ReserveAsync(Reserve(account, 3m, "retry", "GET /a"));
        Assert.Equal(ReserveStatus.Duplicate, again.Status);
        Assert.Equal(released.Id, again.Reservation!.Id);
        Assert.Equal(ReservationState.Released, again.Reservation.State);
        var late = await store.ReserveAsync(Reserve(account, 3m, "late", "GET /a"));
        Assert.Equal(ReserveStatus.Duplicate, late.Status);
        Assert.Equal(ReservationState.Expired, late.Reservation!.State);
        Assert.Equal(new CreditBalance(Units(5m), Money.Zero), await store.GetBalanceAsync(account));

        // Final means final: nothing can settle a released hold, and the settle of an expired one is its own call's.
        Assert.Equal(SettleStatus.NotActive, (await store.SettleAsync(released.Id, Units(2m), Now)).Status);
        Assert.Equal(SettleStatus.Settled, (await store.SettleAsync(expired.Id, Units(1m), Now)).Status);
        Assert.Equal(SettleStatus.AlreadySettled, (await store.SettleAsync(expired.Id, Units(1m), Now)).Status);
        Assert.Equal(new CreditBalance(Units(4m), Money.Zero), await store.GetBalanceAsync(account));
        Assert.Equal(Units(4m), await LedgerSumAsync(store, account));
    }

    [SkippableFact]
    public async Task Expiring_releases_only_reservations_that_are_due()
    {
        var store = await CreateStoreAsync();
        var account = NewAccountId();
        await store.PostAsync(Grant(account, 10m, "g"));
        var due = (await store.ReserveAsync(Reserve(account, 1m, "due") with { ExpiresAt = Now.AddMinutes(-1) })).Reservation!;
        var dueNow = (await store.ReserveAsync(Reserve(account, 2m, "due-now") with { ExpiresAt = Now })).Reservation!;
        var later = (await store.ReserveAsync(Reserve(account, 4m, "later") with { ExpiresAt = Now.AddMinutes(1) })).Reservation!;

        var expired = await ExpireAllAsync(store, Now);
        Assert.True(expired >= 2, "both due reservations expire");
        Assert.Equal(ReservationState.Expired, (await store.FindReservationAsync(due.Id))!.State);
        Assert.Equal(ReservationState.Expired, (await store.FindReservationAsync(dueNow.Id))!.State);
        Assert.Equal(ReservationState.Active, (await store.FindReservationAsync(later.Id))!.State);
        Assert.Equal(new CreditBalance(Units(10m), Units(4m)), await store.GetBalanceAsync(account));
        Assert.False(await store.ReleaseAsync(due.Id, Now));
    }

    [SkippableFact]
    public async Task A_hold_created_long_ago_expires_by_the_current_timeout_whatever_its_stored_expiry()
    {
        var store = await CreateStoreAsync();
        var account = NewAccountId();
        await store.PostAsync(Grant(account, 10m, "g"));

        // Both were made under a 10-hour timeout; the current one is 5 minutes.
        var old = (await store.ReserveAsync(Reserve(account, 1m, "old") with { CreatedAt = Now.AddHours(-1), ExpiresAt = Now.AddHours(9) })).Reservation!;
        var atCutoff = (await store.ReserveAsync(Reserve(account, 2m, "at-cutoff") with { CreatedAt = Now.AddMinutes(-5), ExpiresAt = Now.AddHours(10) })).Reservation!;
        var recent = (await store.ReserveAsync(Reserve(account, 4m, "recent") with { CreatedAt = Now.AddMinutes(-1), ExpiresAt = Now.AddHours(10) })).Reservation!;

        var expired = await ExpireAllAsync(store, Now, createdBefore: Now.AddMinutes(-5));

        Assert.True(expired >= 2, "the two holds older than the current timeout expire");
        Assert.Equal(ReservationState.Expired, (await store.FindReservationAsync(old.Id))!.State);
        Assert.Equal(ReservationState.Expired, (await store.FindReservationAsync(atCutoff.Id))!.State);
        Assert.Equal(ReservationState.Active, (await store.FindReservationAsync(recent.Id))!.State);
        Assert.Equal(new CreditBalance(Units(10m), Units(4m)), await store.GetBalanceAsync(account));
        Assert.False(await store.ReleaseAsync(old.Id, Now));
    }

    [SkippableFact]
    public async Task One_sweep_over_several_accounts_gives_each_account_back_exactly_its_own_expired_holds()
    {
        var store = await CreateStoreAsync();
        var (first, second) = (NewAccountId(), NewAccountId());
        await store.PostAsync(Grant(first, 10m, "g"));
        await store.PostAsync(Grant(second, 20m, "g"));
        await store.ReserveAsync(Reserve(first, 1m, "a") with { ExpiresAt = Now.AddMinutes(-2) });
        await store.ReserveAsync(Reserve(first, 2m, "b") with { ExpiresAt = Now.AddMinutes(-1) });
        await store.ReserveAsync(Reserve(second, 4m, "c") with { ExpiresAt = Now.AddMinutes(-1) });
        var running = (await store.ReserveAsync(Reserve(second, 8m, "running") with { ExpiresAt = Now.AddMinutes(1) })).Reservation!;

        Assert.True(await ExpireAllAsync(store, Now) >= 3, "the three due holds expire");

        Assert.Equal(new CreditBalance(Units(10m), Money.Zero), await store.GetBalanceAsync(first));
        Assert.Equal(new CreditBalance(Units(20m), Units(8m)), await store.GetBalanceAsync(second));
        Assert.Equal(ReservationState.Active, (await store.FindReservationAsync(running.Id))!.State);
    }

    [SkippableFact]
    public async Task Expiring_respects_the_batch_size()
    {
        var store = await CreateStoreAsync();
        var account = NewAccountId();
        await store.PostAsync(Grant(account, 10m, "g"));
        for (var i = 0; i < 3; i++)
        {
            await store.ReserveAsync(Reserve(account, 1m, $"r{i}") with { ExpiresAt = Now.AddYears(-50) });
        }

        Assert.Equal(2, await store.ExpireReservationsAsync(Now.AddYears(-49), NoCreationCutoff, 2));
        Assert.Equal(1, await store.ExpireReservationsAsync(Now.AddYears(-49), NoCreationCutoff, 2));
        Assert.Equal(Money.Zero, (await store.GetBalanceAsync(account)).Reserved);
    }

    [SkippableFact]
    public async Task Settling_an_expired_reservation_still_charges_for_the_call()
    {
        var store = await CreateStoreAsync();
        var account = NewAccountId();
        await store.PostAsync(Grant(account, 10m, "g"));
        var reservation = (await store.ReserveAsync(Reserve(account, 2m, "slow") with { ExpiresAt = Now.AddMinutes(-1) })).Reservation!;
        await ExpireAllAsync(store, Now);

        var settled = await store.SettleAsync(reservation.Id, Units(2m), Now);
        Assert.Equal(SettleStatus.Settled, settled.Status);
        Assert.Equal(new CreditBalance(Units(8m), Money.Zero), await store.GetBalanceAsync(account));
    }

    [SkippableFact]
    public async Task The_ledger_pages_newest_first_without_gaps_or_overlaps()
    {
        var store = await CreateStoreAsync();
        var account = NewAccountId();
        for (var i = 1; i <= 5; i++)
        {
            await store.PostAsync(Grant(account, i, $"g{i}"));
        }

        var seen = new List<LedgerEntry>();
        string? cursor = null;
        var pages = 0;
        do
        {
            var page = await store.GetLedgerAsync(account, 2, cursor);
            Assert.True(page.Entries.Count <= 2);
            seen.AddRange(page.Entries);
            cursor = page.NextCursor;
            pages++;
        }
        while (cursor is not null && pages < 10);

        Assert.Equal(3, pages);
        Assert.Equal(["g5", "g4", "g3", "g2", "g1"], seen.Select(e => e.IdempotencyKey));
    }

    [SkippableFact]
    public async Task Concurrent_reserves_never_take_the_available_balance_below_zero()
    {
        var store = await CreateStoreAsync();
        var account = NewAccountId();
        await store.PostAsync(Grant(account, 100m, "g"));

        var results = await Task.WhenAll(Enumerable.Range(0, Concurrency).Select(i =>
            Task.Run(async () => await store.ReserveAsync(Reserve(account, 1m, $"r{i}")))));

        var reserved = results.Where(r => r.Status == ReserveStatus.Reserved).ToList();
        Assert.Equal(100, reserved.Count);
        Assert.All(results.Where(r => r.Status != ReserveStatus.Reserved), r => Assert.Equal(ReserveStatus.InsufficientCredit, r.Status));
        var balance = await store.GetBalanceAsync(account);
        Assert.Equal(new CreditBalance(Units(100m), Units(100m)), balance);

        await Task.WhenAll(reserved.Select(r => Task.Run(async () => await store.SettleAsync(r.Reservation!.Id, Units(1m), Now))));
        balance = await store.GetBalanceAsync(account);
        Assert.Equal(new CreditBalance(Money.Zero, Money.Zero), balance);
        Assert.Equal(balance.Balance, await LedgerSumAsync(store, account));
    }

    [SkippableFact]
    public async Task Concurrent_grants_with_one_idempotency_key_write_one_entry()
    {
        var store = await CreateStoreAsync();
        var account = NewAccountId();
        var results = await Task.WhenAll(Enumerable.Range(0, 50).Select(_ =>
            Task.Run(async () => await store.PostAsync(Grant(account, 7m, "payment-42") with { EntryId = NewId("led") }))));

        Assert.Single(results, r => r.Status == PostStatus.Posted);
        Assert.All(results, r => Assert.Equal(results.Single(x => x.Status == PostStatus.Posted).Entry!.Id, r.Entry!.Id));
        Assert.Equal(Units(7m), (await store.GetBalanceAsync(account)).Balance);
        Assert.Single((await store.GetLedgerAsync(account, 100, null)).Entries);
    }

    [SkippableFact]
    public async Task Concurrent_settles_of_one_reservation_charge_once()
    {
        var store = await CreateStoreAsync();
        var account = NewAccountId();
        await store.PostAsync(Grant(account, 10m, "g"));
        var reservation = (await store.ReserveAsync(Reserve(account, 5m, "r"))).Reservation!;

        var results = await Task.WhenAll(Enumerable.Range(0, 20).Select(_ =>
            Task.Run(async () => await store.SettleAsync(reservation.Id, Units(5m), Now))));
        Assert.Single(results, r => r.Status == SettleStatus.Settled);
        Assert.Equal(new CreditBalance(Units(5m), Money.Zero), await store.GetBalanceAsync(account));
    }

    [SkippableFact]
    public async Task Under_mixed_concurrent_load_the_ledger_sums_to_the_balance()
    {
        var store = await CreateStoreAsync();
        var account = NewAccountId();
        await store.PostAsync(Grant(account, 50m, "seed"));

        var work = Enumerable.Range(0, Concurrency / 2).Select(i => Task.Run(async () =>
        {
            switch (i % 4)
            {
                case 0:
                    await store.PostAsync(Grant(account, 0.5m, $"g{i}"));
                    break;
                case 1:
                    var held = await store.ReserveAsync(Reserve(account, 1m, $"r{i}"));
                    if (held.Status == ReserveStatus.Reserved)
                    {
                        await store.SettleAsync(held.Reservation!.Id, Units(0.75m), Now);
                    }

                    break;
                case 2:
                    var other = await store.ReserveAsync(Reserve(account, 2m, $"r{i}"));
                    if (other.Status == ReserveStatus.Reserved)
                    {
                        await store.ReleaseAsync(other.Reservation!.Id, Now);
                    }

                    break;
                default:
                    var balance = await store.GetBalanceAsync(account);
                    Assert.True(balance.Available >= Money.Zero, $"available {balance.Available} went below zero");
                    break;
            }
        }));
        await Task.WhenAll(work);

        var final = await store.GetBalanceAsync(account);
        Assert.Equal(Money.Zero, final.Reserved);
        Assert.True(final.Balance >= Money.Zero);
        Assert.Equal(final.Balance, await LedgerSumAsync(store, account));
    }

    /// <summary>A new account id no other test uses.</summary>
    protected static string NewAccountId() => NewId("acct");

    /// <summary>A new unique id with a prefix.</summary>
    protected static string NewId(string prefix) => $"{prefix}_{Guid.NewGuid():N}";

    /// <summary>An amount in currency units.</summary>
    protected static Money Units(decimal units) => Money.FromUnits(units);

    private static LedgerPostRequest Grant(string account, decimal units, string key) => Post(account, LedgerEntryKind.Grant, units, key);

    private static LedgerPostRequest Post(string account, LedgerEntryKind kind, decimal units, string key) => new()
    {
        EntryId = NewId("led"),
        AccountId = account,
        Kind = kind,
        Amount = Units(units),
        IdempotencyKey = key,
        Reason = "for a test",
        CreatedAt = Now,
    };

    private static CreditReservationRequest Reserve(string account, decimal units, string key, string? reference = null) => new()
    {
        ReservationId = NewId("res"),
        AccountId = account,
        Amount = Units(units),
        IdempotencyKey = key,
        Reference = reference,
        CreatedAt = Now,
        ExpiresAt = Now.AddMinutes(10),
    };

    /// <summary>A creation cut-off no reservation is older than: only the stored expiry counts.</summary>
    private static readonly DateTimeOffset NoCreationCutoff = DateTimeOffset.UnixEpoch;

    private static async Task<int> ExpireAllAsync(ICreditStore store, DateTimeOffset now, DateTimeOffset? createdBefore = null)
    {
        var total = 0;
        int count;
        do
        {
            count = await store.ExpireReservationsAsync(now, createdBefore ?? NoCreationCutoff, 1000);
            total += count;
        }
        while (count == 1000);
        return total;
    }

    private static async Task<Money> LedgerSumAsync(ICreditStore store, string account)
    {
        var sum = Money.Zero;
        string? cursor = null;
        do
        {
            var page = await store.GetLedgerAsync(account, 500, cursor);
            foreach (var entry in page.Entries)
            {
                sum += entry.Amount;
            }

            cursor = page.NextCursor;
        }
        while (cursor is not null);
        return sum;
    }
}
