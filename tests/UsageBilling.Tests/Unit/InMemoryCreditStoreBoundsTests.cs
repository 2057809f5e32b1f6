using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace UsageBilling.Tests.Unit;

/// <summary>The in-memory credit store stays bounded: finished reservations live for their idempotency window only.</summary>
public sealed class InMemoryCreditStoreBoundsTests
{
    private static readonly DateTimeOffset Start = new(2026, 11, 1, 12, 0, 0, TimeSpan.Zero);
    private static readonly TimeSpan Window = TimeSpan.FromMinutes(10);

    [Fact]
    public async Task Reserve_and_settle_under_load_keeps_only_the_reservations_of_the_last_window()
    {
        var time = new FakeTimeProvider(Start);
        var store = new InMemoryCreditStore(time, Window);
        await store.PostAsync(Grant("acct", 1_000_000m));

        // 200k calls at 100 per simulated second: 2,000 s, more than three windows of 600 s.
        const int Calls = 200_000;
        const int PerSecond = 100;
        var window = (int)Window.TotalSeconds * PerSecond;
        var bound = window + PerSecond;
        var mostRetained = 0;
        for (var i = 0; i < Calls; i++)
        {
            if (i % PerSecond == 0)
            {
                time.Advance(TimeSpan.FromSeconds(1));
            }

            var reserved = await store.ReserveAsync(Reserve("acct", $"k{i}", time.GetUtcNow()));
            Assert.Equal(ReserveStatus.Reserved, reserved.Status);
            Assert.Equal(SettleStatus.Settled, (await store.SettleAsync(reserved.Reservation!.Id, Money.FromUnits(1m), time.GetUtcNow())).Status);
            mostRetained = Math.Max(mostRetained, store.RetainedReservationCount);
        }

        Assert.InRange(mostRetained, window, bound);
        Assert.InRange(store.RetainedReservationCount, window - PerSecond, bound);
        Assert.Equal(0, store.ActiveHoldCount);

        // The ledger is the money record: every charge stays, and it still sums to the balance.
        Assert.Equal(new CreditBalance(Money.FromUnits(1_000_000m - Calls), Money.Zero), await store.GetBalanceAsync("acct"));

        // Idle past the window: the sweeper forgets the rest.
        time.Advance(Window + TimeSpan.FromSeconds(1));
        Assert.Equal(0, await store.ExpireReservationsAsync(time.GetUtcNow(), time.GetUtcNow().AddMinutes(-10), 500));
        Assert.Equal(0, store.RetainedReservationCount);
    }

    [Fact]
    public async Task A_finished_reservations_key_is_a_duplicate_for_the_whole_window_and_forgotten_after_it()
    {
        var time = new FakeTimeProvider(Start);
        var store = new InMemoryCreditStore(time, Window);
        await store.PostAsync(Grant("acct", 100m));
        var first = (await store.ReserveAsync(Reserve("acct", "call-1", time.GetUtcNow()))).Reservation!;
        var released = (await store.ReserveAsync(Reserve("acct", "call-2", time.GetUtcNow()))).Reservation!;

        // Long-running calls are never forgotten while they hold credit, however old they are.
        time.Advance(Window * 3);
        await store.ReserveAsync(Reserve("acct", "other", time.GetUtcNow()));
        Assert.Equal(SettleStatus.Settled, (await store.SettleAsync(first.Id, Money.FromUnits(2m), time.GetUtcNow())).Status);
        Assert.True(await store.ReleaseAsync(released.Id, time.GetUtcNow()));

        // One tick before the window ends: still a duplicate, with the existing reservation, and settled once.
        time.Advance(Window - TimeSpan.FromTicks(1));
        await store.ExpireReservationsAsync(time.GetUtcNow(), DateTimeOffset.UnixEpoch, 500);
        var retry = await store.ReserveAsync(Reserve("acct", "call-1", time.GetUtcNow()));
        Assert.Equal(ReserveStatus.Duplicate, retry.Status);
        Assert.Equal(first.Id, retry.Reservation!.Id);
        Assert.Equal(ReservationState.Settled, retry.Reservation.State);
        Assert.Equal(ReserveStatus.Duplicate, (await store.ReserveAsync(Reserve("acct", "call-2", time.GetUtcNow()))).Status);
        Assert.Equal(SettleStatus.AlreadySettled, (await store.SettleAsync(first.Id, Money.FromUnits(2m), time.GetUtcNow())).Status);

        // The window has passed: both are forgotten. The key holds again; the old id is unknown and charges nothing.
        time.Advance(TimeSpan.FromTicks(1));
        await store.ExpireReservationsAsync(time.GetUtcNow(), DateTimeOffset.UnixEpoch, 500);
        Assert.Null(await store.FindReservationAsync(first.Id));
        Assert.Null(await store.FindReservationAsync(released.Id));
        Assert.Equal(SettleStatus.NotActive, (await store.SettleAsync(first.Id, Money.FromUnits(2m), time.GetUtcNow())).Status);
        var again = await store.ReserveAsync(Reserve("acct", "call-1", time.GetUtcNow()));
        Assert.Equal(ReserveStatus.Reserved, again.Status);
        Assert.NotEqual(first.Id, again.Reservation!.Id);
        Assert.Equal(Money.FromUnits(98m), (await store.GetBalanceAsync("acct")).Balance);
    }

    [Fact]
    public async Task An_expired_hold_settled_later_is_kept_for_a_window_from_its_settle()
    {
        var time = new FakeTimeProvider(Start);
        var store = new InMemoryCreditStore(time, Window);
        await store.PostAsync(Grant("acct", 100m));
        var slow = (await store.ReserveAsync(Reserve("acct", "slow", time.GetUtcNow()) with { ExpiresAt = time.GetUtcNow().AddMinutes(1) })).Reservation!;
        time.Advance(TimeSpan.FromMinutes(1));
        Assert.Equal(1, await store.ExpireReservationsAsync(time.GetUtcNow(), DateTimeOffset.UnixEpoch, 500));

        time.Advance(Window - TimeSpan.FromMinutes(1));
        Assert.Equal(SettleStatus.Settled, (await store.SettleAsync(slow.Id, Money.FromUnits(3m), time.GetUtcNow())).Status);

        // The expiry's window is over, the settle's is not.
        time.Advance(TimeSpan.FromMinutes(5));
        await store.ExpireReservationsAsync(time.GetUtcNow(), DateTimeOffset.UnixEpoch, 500);
        Assert.Equal(ReservationState.Settled, (await store.FindReservationAsync(slow.Id))!.State);
        Assert.Equal(SettleStatus.AlreadySettled, (await store.SettleAsync(slow.Id, Money.FromUnits(3m), time.GetUtcNow())).Status);

        time.Advance(Window);
        await store.ExpireReservationsAsync(time.GetUtcNow(), DateTimeOffset.UnixEpoch, 500);
        Assert.Null(await store.FindReservationAsync(slow.Id));
        Assert.Equal(new CreditBalance(Money.FromUnits(97m), Money.Zero), await store.GetBalanceAsync("acct"));
    }

    [Fact]
    public async Task The_sweeper_visits_only_the_due_holds_not_the_finished_history()
    {
        var time = new FakeTimeProvider(Start);
        var store = new InMemoryCreditStore(time);
        await store.PostAsync(Grant("acct", 1_000_000m));
        var now = time.GetUtcNow();

        // 100k finished reservations (all past their expiry, all within the idempotency window), 3 due holds, 10 not due.
        for (var i = 0; i < 100_000; i++)
        {
            var id = (await store.ReserveAsync(Reserve("acct", $"done{i}", now.AddHours(-1)) with { ExpiresAt = now.AddMinutes(-30) })).Reservation!.Id;
            if (i % 2 == 0)
            {
                await store.SettleAsync(id, Money.FromUnits(1m), now);
            }
            else
            {
                await store.ReleaseAsync(id, now);
            }
        }

        for (var i = 0; i < 3; i++)
        {
            await store.ReserveAsync(Reserve("acct", $"due{i}", now.AddMinutes(-20)) with { ExpiresAt = now.AddMinutes(-10 + i) });
        }

        for (var i = 0; i < 10; i++)
        {
            await store.ReserveAsync(Reserve("acct", $"later{i}", now) with { ExpiresAt = now.AddMinutes(10) });
        }

        Assert.Equal(100_013, store.RetainedReservationCount);
        Assert.Equal(13, store.ActiveHoldCount);

        Assert.Equal(3, await store.ExpireReservationsAsync(now, now.AddMinutes(-30), 500));
        Assert.Equal(3, store.SweepVisits);
        Assert.Equal(10, store.ActiveHoldCount);
        Assert.Equal(0, await store.ExpireReservationsAsync(now, now.AddMinutes(-30), 500));
        Assert.Equal(3, store.SweepVisits);
        Assert.Equal(Money.FromUnits(10m), (await store.GetBalanceAsync("acct")).Reserved);
    }

    [Fact]
    public async Task The_sweeper_expires_by_creation_cut_off_through_its_own_index()
    {
        var time = new FakeTimeProvider(Start);
        var store = new InMemoryCreditStore(time);
        await store.PostAsync(Grant("acct", 100m));
        var now = time.GetUtcNow();
        for (var i = 0; i < 1_000; i++)
        {
            var id = (await store.ReserveAsync(Reserve("acct", $"done{i}", now.AddHours(-2)))).Reservation!.Id;
            await store.ReleaseAsync(id, now);
        }

        // Made under a 10-hour timeout; the current one is 5 minutes, so the sweeper passes now − 5 min.
        var old = (await store.ReserveAsync(Reserve("acct", "old", now.AddHours(-1)) with { ExpiresAt = now.AddHours(9) })).Reservation!;
        var recent = (await store.ReserveAsync(Reserve("acct", "recent", now.AddMinutes(-1)) with { ExpiresAt = now.AddHours(10) })).Reservation!;

        Assert.Equal(1, await store.ExpireReservationsAsync(now, now.AddMinutes(-5), 500));
        Assert.Equal(1, store.SweepVisits);
        Assert.Equal(ReservationState.Expired, (await store.FindReservationAsync(old.Id))!.State);
        Assert.Equal(ReservationState.Active, (await store.FindReservationAsync(recent.Id))!.State);
    }

    [Fact]
    public async Task An_expired_hold_is_kept_for_a_window_after_it_expired_and_then_forgotten()
    {
        var time = new FakeTimeProvider(Start);
        var store = new InMemoryCreditStore(time, Window);
        await store.PostAsync(Grant("acct", 10m));
        var held = (await store.ReserveAsync(Reserve("acct", "call-1", time.GetUtcNow()))).Reservation!;

        // The call never completes: its hold expires (10 minutes), and the sweeper releases it.
        time.Advance(TimeSpan.FromMinutes(10));
        Assert.Equal(1, await store.ExpireReservationsAsync(time.GetUtcNow(), DateTimeOffset.UnixEpoch, 500));
        Assert.Equal(new CreditBalance(Money.FromUnits(10m), Money.Zero), await store.GetBalanceAsync("acct"));

        // For a window the key still names that call, then nothing of it is kept.
        time.Advance(Window - TimeSpan.FromTicks(1));
        await store.ExpireReservationsAsync(time.GetUtcNow(), DateTimeOffset.UnixEpoch, 500);
        Assert.Equal(ReserveStatus.Duplicate, (await store.ReserveAsync(Reserve("acct", "call-1", time.GetUtcNow()))).Status);
        Assert.Equal(1, store.RetainedReservationCount);

        time.Advance(TimeSpan.FromTicks(1));
        await store.ExpireReservationsAsync(time.GetUtcNow(), DateTimeOffset.UnixEpoch, 500);
        Assert.Equal(0, store.RetainedReservationCount);
        Assert.Null(await store.FindReservationAsync(held.Id));
    }

    [Fact]
    public async Task A_ledger_page_that_ends_at_the_oldest_entry_or_starts_at_an_unknown_cursor_has_no_next_cursor_and_a_charge_entry_has_a_ledger_id()
    {
        var time = new FakeTimeProvider(Start);
        var store = new InMemoryCreditStore(time, Window);
        await store.PostAsync(Grant("acct", 10m));
        var held = (await store.ReserveAsync(Reserve("acct", "call-1", time.GetUtcNow()))).Reservation!;
        var charge = (await store.SettleAsync(held.Id, Money.FromUnits(1m), time.GetUtcNow())).Entry!;
        Assert.StartsWith("led_", charge.Id, StringComparison.Ordinal);

        var whole = await store.GetLedgerAsync("acct", 2, null);
        Assert.Equal([charge.Id], whole.Entries.Take(1).Select(e => e.Id));
        Assert.Null(whole.NextCursor);

        var first = await store.GetLedgerAsync("acct", 1, null);
        Assert.NotNull(first.NextCursor);
        var last = await store.GetLedgerAsync("acct", 1, first.NextCursor);
        Assert.Single(last.Entries);
        Assert.Equal(LedgerEntryKind.Grant, last.Entries[0].Kind);
        Assert.Null(last.NextCursor);

        // A cursor that names no entry of the account starts nowhere: an empty last page.
        var unknown = await store.GetLedgerAsync("acct", 10, "led_unknown");
        Assert.Empty(unknown.Entries);
        Assert.Null(unknown.NextCursor);
    }

    [Fact]
    public async Task The_registered_store_takes_its_window_and_clock_from_the_options_and_the_app()
    {
        var time = new FakeTimeProvider(Start);
        var services = new ServiceCollection();
        services.AddSingleton<TimeProvider>(time);
        services.AddLogging();
        services.AddUsageBilling(o => o.Idempotency.ReplayFor = TimeSpan.FromMinutes(1));
        await using var provider = services.BuildServiceProvider();
        var store = Assert.IsType<InMemoryCreditStore>(provider.GetRequiredService<ICreditStore>());

        await store.PostAsync(Grant("acct", 1m));
        var reservation = (await store.ReserveAsync(Reserve("acct", "k", Start))).Reservation!;
        await store.ReleaseAsync(reservation.Id, Start);
        time.Advance(TimeSpan.FromSeconds(59));
        Assert.Equal(0, store.ForgetFinished(int.MaxValue));
        time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(1, store.ForgetFinished(int.MaxValue));
    }

    [Fact]
    public async Task The_registered_usage_store_is_a_ring_of_the_configured_capacity()
    {
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddUsageBilling(o => o.UsageLog.InMemoryCapacity = 2);
        await using var provider = services.BuildServiceProvider();
        var store = provider.GetRequiredService<IUsageStore>();
        for (var i = 0; i < 5; i++)
        {
            await store.AppendAsync([new UsageRecord
            {
                RequestId = $"req_{i}", Timestamp = Start.AddSeconds(i), AccountId = "acct", Method = "GET", Route = "/x", StatusCode = 200, DurationMs = 1,
                Cost = Money.FromUnits(1m),
            }]);
        }

        var page = await store.QueryAsync(new UsageQuery { AccountId = "acct", Limit = 10 });
        Assert.Equal(["req_4", "req_3"], page.Records.Select(r => r.RequestId));
    }

    private static LedgerPostRequest Grant(string account, decimal units) => new()
    {
        EntryId = "led_" + Guid.NewGuid().ToString("N"),
        AccountId = account,
        Kind = LedgerEntryKind.Grant,
        Amount = Money.FromUnits(units),
        IdempotencyKey = "grant:" + Guid.NewGuid().ToString("N"),
        CreatedAt = Start,
    };

    private static CreditReservationRequest Reserve(string account, string key, DateTimeOffset createdAt) => new()
    {
        ReservationId = "res_" + Guid.NewGuid().ToString("N"),
        AccountId = account,
        Amount = Money.FromUnits(1m),
        IdempotencyKey = key,
        Reference = "GET /x",
        CreatedAt = createdAt,
        ExpiresAt = createdAt.AddMinutes(10),
    };
}
