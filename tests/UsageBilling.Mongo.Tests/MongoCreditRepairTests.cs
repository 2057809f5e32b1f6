using MongoDB.Driver;

namespace UsageBilling.Mongo.Tests;

/// <summary>
/// Crash repair against a real server (<c>USAGEBILLING_MONGO_URI</c>; skipped without): each test leaves the
/// documents exactly as a caller that died between two updates would, then checks that the store finishes the
/// work, moves money once, and keeps the ledger summing to the balance.
/// </summary>
public sealed class MongoCreditRepairTests(MongoTestDatabase mongo) : IClassFixture<MongoTestDatabase>
{
    private static readonly DateTimeOffset Now = new(2026, 11, 1, 12, 0, 0, TimeSpan.Zero);

    [SkippableFact]
    public async Task An_entry_applied_before_a_crash_reaches_the_ledger_on_the_next_read()
    {
        var (db, store, account) = await StartAsync(10m);
        var entry = Pending("led_crash_" + Guid.NewGuid().ToString("N"), "ext:k2", 5_000_000_000, claimedAt: DateTimeOffset.UtcNow.UtcTicks);
        await db.Balances.UpdateOneAsync(CreditDefinitions.CanClaim(account, entry.IdempotencyKey), CreditDefinitions.Claim(entry));
        await db.Balances.FindOneAndUpdateAsync(CreditDefinitions.CanApply(account, entry.Id, entry.Amount, true), CreditDefinitions.Apply(entry.Id, entry.Amount));
        Assert.Equal(Units(15m), (await store.GetBalanceAsync(account)).Balance);

        var ledger = await store.GetLedgerAsync(account, 10, null);
        Assert.Equal(2, ledger.Entries.Count);
        Assert.Equal(entry.Id, ledger.Entries[0].Id);
        Assert.Equal(Units(15m), ledger.Entries[0].BalanceAfter);
        Assert.Equal(Units(15m), Sum(ledger));

        var replay = await store.PostAsync(Grant(account, 5m, "ext:k2"));
        Assert.Equal(PostStatus.Duplicate, replay.Status);
        Assert.Equal(entry.Id, replay.Entry!.Id);
        Assert.Equal(Units(15m), (await store.GetBalanceAsync(account)).Balance);
    }

    [SkippableFact]
    public async Task An_abandoned_claim_moves_no_money_and_does_not_block_its_key()
    {
        var (db, store, account) = await StartAsync(10m);
        var abandoned = Pending("led_gone_" + Guid.NewGuid().ToString("N"), "ext:k3", 1_000_000_000, claimedAt: 0);
        await db.Balances.UpdateOneAsync(CreditDefinitions.CanClaim(account, abandoned.IdempotencyKey), CreditDefinitions.Claim(abandoned));
        Assert.Equal(Units(10m), (await store.GetBalanceAsync(account)).Balance);

        var posted = await store.PostAsync(Grant(account, 1m, "ext:k3"));
        Assert.Equal(PostStatus.Posted, posted.Status);
        Assert.NotEqual(abandoned.Id, posted.Entry!.Id);
        Assert.Equal(Units(11m), (await store.GetBalanceAsync(account)).Balance);
        var ledger = await store.GetLedgerAsync(account, 10, null);
        Assert.Equal(2, ledger.Entries.Count);
        Assert.Equal(Units(11m), Sum(ledger));
    }

    [SkippableFact]
    public async Task A_hold_whose_reservation_was_never_written_is_recovered_then_expires()
    {
        var (db, store, account) = await StartAsync(10m);
        var hold = new HoldDocument
        {
            ReservationId = "res_orphan_" + Guid.NewGuid().ToString("N"),
            Generation = 1,
            IdempotencyKey = "orphan",
            Amount = 3_000_000_000,
            CreatedAt = TimestampDocument.From(Now.AddMinutes(-11)),
            ExpiresAt = TimestampDocument.From(Now.AddMinutes(-1)),
        };
        await db.Balances.FindOneAndUpdateAsync(CreditDefinitions.CanHold(account, hold.IdempotencyKey, hold.Amount), CreditDefinitions.Hold(hold));
        Assert.Null(await store.FindReservationAsync(hold.ReservationId));

        await store.ExpireReservationsAsync(Now, DateTimeOffset.UnixEpoch, 1000);
        Assert.NotNull(await store.FindReservationAsync(hold.ReservationId));
        await store.ExpireReservationsAsync(Now, DateTimeOffset.UnixEpoch, 1000);

        Assert.Equal(ReservationState.Expired, (await store.FindReservationAsync(hold.ReservationId))!.State);
        Assert.Equal(new CreditBalance(Units(10m), Money.Zero), await store.GetBalanceAsync(account));
    }

    [SkippableFact]
    public async Task A_hold_left_behind_by_a_release_is_removed_without_a_charge()
    {
        var (db, store, account) = await StartAsync(10m);
        var reservation = (await store.ReserveAsync(Reserve(account, 4m, "r", Now.AddMinutes(-1)))).Reservation!;
        await db.Reservations.UpdateOneAsync(CreditDefinitions.ReservationIn(reservation.Id, ReservationStates.Active), CreditDefinitions.SetState(ReservationStates.Released));
        Assert.Equal(Units(4m), (await store.GetBalanceAsync(account)).Reserved);

        await store.ExpireReservationsAsync(Now, DateTimeOffset.UnixEpoch, 1000);

        Assert.Equal(new CreditBalance(Units(10m), Money.Zero), await store.GetBalanceAsync(account));
        Assert.Equal(ReservationState.Released, (await store.FindReservationAsync(reservation.Id))!.State);
        Assert.Single((await store.GetLedgerAsync(account, 10, null)).Entries);
    }

    [SkippableFact]
    public async Task A_settle_cut_off_before_its_charge_is_charged_once_by_the_next_settle_call()
    {
        var (db, store, account) = await StartAsync(10m);
        var reservation = (await store.ReserveAsync(Reserve(account, 4m, "r", Now.AddMinutes(10)))).Reservation!;
        await db.Reservations.UpdateOneAsync(CreditDefinitions.ReservationIn(reservation.Id, ReservationStates.Active), CreditDefinitions.SettleFromActive(1_500_000_000, Now));
        Assert.Equal(new CreditBalance(Units(10m), Units(4m)), await store.GetBalanceAsync(account));

        var retry = await store.SettleAsync(reservation.Id, Units(3m), Now);
        Assert.Equal(SettleStatus.AlreadySettled, retry.Status);
        Assert.Equal(Units(-1.5m), retry.Entry!.Amount);
        var again = await store.SettleAsync(reservation.Id, Units(3m), Now);
        Assert.Equal(retry.Entry.Id, again.Entry!.Id);

        Assert.Equal(new CreditBalance(Units(8.5m), Money.Zero), await store.GetBalanceAsync(account));
        var ledger = await store.GetLedgerAsync(account, 10, null);
        Assert.Equal(2, ledger.Entries.Count);
        Assert.Equal(Units(8.5m), Sum(ledger));
    }

    [SkippableFact]
    public async Task A_charge_for_an_expired_reservation_cut_off_by_a_crash_is_written_once_by_the_sweeper()
    {
        var (db, store, account) = await StartAsync(10m);
        var reservation = (await store.ReserveAsync(Reserve(account, 2m, "slow", Now.AddMinutes(-1)))).Reservation!;
        await store.ExpireReservationsAsync(Now, DateTimeOffset.UnixEpoch, 1000);
        await db.Reservations.UpdateOneAsync(CreditDefinitions.ReservationIn(reservation.Id, ReservationStates.Expired), CreditDefinitions.SettleFromExpired(2_000_000_000, Now, storeTicks: 0));
        Assert.Equal(new CreditBalance(Units(10m), Money.Zero), await store.GetBalanceAsync(account));

        await store.ExpireReservationsAsync(Now, DateTimeOffset.UnixEpoch, 1000);
        await store.ExpireReservationsAsync(Now, DateTimeOffset.UnixEpoch, 1000);

        Assert.Equal(new CreditBalance(Units(8m), Money.Zero), await store.GetBalanceAsync(account));
        var ledger = await store.GetLedgerAsync(account, 10, null);
        Assert.Equal(2, ledger.Entries.Count);
        Assert.Equal(reservation.Id, ledger.Entries[0].ReservationId);
        var stored = await db.Reservations.Find(CreditDefinitions.Reservation(reservation.Id)).SingleAsync();
        Assert.Null(stored.PendingCharge);
        Assert.Equal(SettleStatus.AlreadySettled, (await store.SettleAsync(reservation.Id, Units(2m), Now)).Status);
        Assert.Equal(Units(8m), (await store.GetBalanceAsync(account)).Balance);
    }

    [SkippableFact]
    public async Task A_hold_left_by_a_revival_of_an_older_version_is_removed_and_the_reservation_stays_final()
    {
        var (db, store, account) = await StartAsync(10m);
        var first = (await store.ReserveAsync(Reserve(account, 2m, "again", Now.AddMinutes(10)) with { Reference = "GET /a" })).Reservation!;
        await store.ReleaseAsync(first.Id, Now);
        var hold = new HoldDocument
        {
            ReservationId = first.Id,
            Generation = 2,
            IdempotencyKey = "again",
            Amount = 3_000_000_000,
            Reference = "GET /a",
            CreatedAt = TimestampDocument.From(Now.AddMinutes(-11)),
            ExpiresAt = TimestampDocument.From(Now.AddMinutes(-1)),
        };
        await db.Balances.FindOneAndUpdateAsync(CreditDefinitions.CanHold(account, hold.IdempotencyKey, hold.Amount), CreditDefinitions.Hold(hold));

        await store.ExpireReservationsAsync(Now, DateTimeOffset.UnixEpoch, 1000);
        var final = (await store.FindReservationAsync(first.Id))!;
        Assert.Equal(ReservationState.Released, final.State);
        Assert.Equal(new CreditBalance(Units(10m), Money.Zero), await store.GetBalanceAsync(account));
        Assert.False(await store.ReleaseAsync(first.Id, Now));
    }

    private async Task<(MongoBillingDatabase Db, MongoCreditStore Store, string Account)> StartAsync(decimal grant)
    {
        var db = mongo.Require();
        var store = new MongoCreditStore(db, TimeProvider.System);
        var account = $"acct_{Guid.NewGuid():N}";
        Assert.Equal(PostStatus.Posted, (await store.PostAsync(Grant(account, grant, "seed"))).Status);
        return (db, store, account);
    }

    private static PendingLedgerEntryDocument Pending(string id, string key, long amount, long claimedAt) => new()
    {
        Id = id,
        IdempotencyKey = key,
        Kind = LedgerEntryKinds.Grant,
        Amount = amount,
        CreatedAt = TimestampDocument.From(Now),
        ClaimedAt = claimedAt,
    };

    private static LedgerPostRequest Grant(string account, decimal units, string key) => new()
    {
        EntryId = $"led_{Guid.NewGuid():N}",
        AccountId = account,
        Kind = LedgerEntryKind.Grant,
        Amount = Units(units),
        IdempotencyKey = key,
        CreatedAt = Now,
    };

    private static CreditReservationRequest Reserve(string account, decimal units, string key, DateTimeOffset expiresAt) => new()
    {
        ReservationId = $"res_{Guid.NewGuid():N}",
        AccountId = account,
        Amount = Units(units),
        IdempotencyKey = key,
        CreatedAt = Now.AddMinutes(-10),
        ExpiresAt = expiresAt,
    };

    private static Money Sum(LedgerPage page) => page.Entries.Aggregate(Money.Zero, (sum, e) => sum + e.Amount);

    private static Money Units(decimal units) => Money.FromUnits(units);
}
