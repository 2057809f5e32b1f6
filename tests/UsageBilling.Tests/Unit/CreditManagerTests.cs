using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;

namespace UsageBilling.Tests.Unit;

/// <summary>The operator-facing guards of <see cref="CreditManager"/> and the holds it places.</summary>
public sealed class CreditManagerTests
{
    private static readonly DateTimeOffset Now = new(2026, 3, 10, 9, 0, 0, TimeSpan.Zero);

    [Theory]
    [InlineData(LedgerEntryKind.Grant, "0")]
    [InlineData(LedgerEntryKind.Grant, "-1")]
    [InlineData(LedgerEntryKind.Refund, "0")]
    [InlineData(LedgerEntryKind.Refund, "-0.000000001")]
    [InlineData(LedgerEntryKind.Adjustment, "0")]
    public async Task Zero_or_negative_grants_and_refunds_and_zero_adjustments_are_refused_and_move_nothing(LedgerEntryKind kind, string units)
    {
        await using var harness = new MeteredCallHarness(Now);
        var caller = await harness.CallerAsync(credit: 10m);

        var error = await Assert.ThrowsAsync<ArgumentOutOfRangeException>(async () =>
            await harness.Credits.PostAsync(caller.Account.Id, kind, Units(units), "payment-1"));

        Assert.Equal("amount", error.ParamName);
        Assert.Equal(Money.FromUnits(10m), (await harness.Credits.GetBalanceAsync(caller.Account.Id)).Balance);
        Assert.Single((await harness.Credits.GetLedgerAsync(caller.Account.Id)).Entries);
    }

    [Fact]
    public async Task A_charge_cannot_be_posted_by_hand()
    {
        await using var harness = new MeteredCallHarness(Now);
        var caller = await harness.CallerAsync(credit: 10m);

        var error = await Assert.ThrowsAsync<ArgumentException>(async () =>
            await harness.Credits.PostAsync(caller.Account.Id, LedgerEntryKind.Charge, Money.FromUnits(-1m)));

        Assert.Equal("kind", error.ParamName);
        Assert.Equal(Money.FromUnits(10m), (await harness.Credits.GetBalanceAsync(caller.Account.Id)).Balance);
    }

    [Theory]
    [InlineData(LedgerEntryKind.Grant, "2.5", "12.5")]
    [InlineData(LedgerEntryKind.Refund, "0.000000001", "10.000000001")]
    [InlineData(LedgerEntryKind.Adjustment, "-4", "6")]
    [InlineData(LedgerEntryKind.Adjustment, "4", "14")]
    public async Task Positive_grants_and_refunds_and_signed_adjustments_are_posted(LedgerEntryKind kind, string units, string balanceAfter)
    {
        await using var harness = new MeteredCallHarness(Now);
        var caller = await harness.CallerAsync(credit: 10m);

        var result = await harness.Credits.PostAsync(caller.Account.Id, kind, Units(units));

        Assert.Equal(PostStatus.Posted, result.Status);
        Assert.Equal(Units(balanceAfter), (await harness.Credits.GetBalanceAsync(caller.Account.Id)).Balance);
    }

    [Fact]
    public async Task Negative_holds_and_negative_charges_are_refused()
    {
        await using var harness = new MeteredCallHarness(Now);
        var caller = await harness.CallerAsync(credit: 10m);

        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(async () =>
            await harness.Credits.ReserveAsync(caller.Account.Id, Money.FromUnits(-1m), "r1"));
        var held = await harness.Credits.ReserveAsync(caller.Account.Id, Money.FromUnits(1m), "r2");
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(async () =>
            await harness.Credits.SettleAsync(held.Reservation!.Id, Money.FromUnits(-0.5m)));

        var balance = await harness.Credits.GetBalanceAsync(caller.Account.Id);
        Assert.Equal(Money.FromUnits(10m), balance.Balance);
        Assert.Equal(Money.FromUnits(1m), balance.Reserved);
        Assert.Equal(SettleStatus.Settled, (await harness.Credits.SettleAsync(held.Reservation!.Id, Money.Zero)).Status);
    }

    [Fact]
    public async Task A_callers_idempotency_key_never_collides_with_the_key_of_an_internal_settle()
    {
        await using var harness = new MeteredCallHarness(Now);
        var caller = await harness.CallerAsync(credit: 10m);
        var held = await harness.Credits.ReserveAsync(caller.Account.Id, Money.FromUnits(2m), "call-1");
        var reservationId = held.Reservation!.Id;
        await harness.Credits.SettleAsync(reservationId, Money.FromUnits(1.5m));

        // An operator's payment id that happens to read like the settle's internal key is its own move.
        var grant = await harness.Credits.PostAsync(caller.Account.Id, LedgerEntryKind.Grant, Money.FromUnits(5m), "settle:" + reservationId);

        Assert.Equal(PostStatus.Posted, grant.Status);
        Assert.Equal(LedgerEntryKind.Grant, grant.Entry!.Kind);
        Assert.Equal(Money.FromUnits(13.5m), (await harness.Credits.GetBalanceAsync(caller.Account.Id)).Balance);
        Assert.Equal(SettleStatus.AlreadySettled, (await harness.Credits.SettleAsync(reservationId, Money.FromUnits(1.5m))).Status);
        Assert.Equal(Money.FromUnits(13.5m), (await harness.Credits.GetBalanceAsync(caller.Account.Id)).Balance);
    }

    [Fact]
    public async Task A_fresh_hold_survives_a_sweep_right_after_it_and_expires_after_the_reservation_timeout()
    {
        await using var harness = new MeteredCallHarness(Now, o => o.Credits.ReservationTimeout = TimeSpan.FromMinutes(5));
        var caller = await harness.CallerAsync(credit: 10m);
        var sweeper = harness.Services.GetRequiredService<ReservationSweeper>();
        var held = await harness.Credits.ReserveAsync(caller.Account.Id, Money.FromUnits(4m), "call-1");
        Assert.Equal(Now.AddMinutes(5), held.Reservation!.ExpiresAt);

        harness.Time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(0, await sweeper.SweepOnceAsync(CancellationToken.None));
        Assert.Equal(Money.FromUnits(4m), (await harness.Credits.GetBalanceAsync(caller.Account.Id)).Reserved);

        harness.Time.Advance(TimeSpan.FromMinutes(5));
        Assert.Equal(1, await sweeper.SweepOnceAsync(CancellationToken.None));
        Assert.Equal(Money.Zero, (await harness.Credits.GetBalanceAsync(caller.Account.Id)).Reserved);
        Assert.Equal(ReservationState.Expired, (await harness.CreditStore.FindReservationAsync(held.Reservation.Id))!.State);
    }

    [Fact]
    public async Task Blank_accounts_and_blank_hold_keys_are_refused_before_anything_is_written()
    {
        await using var harness = new MeteredCallHarness(Now);
        var caller = await harness.CallerAsync(credit: 10m);

        Assert.Equal("accountId", (await Assert.ThrowsAnyAsync<ArgumentException>(async () =>
            await harness.Credits.PostAsync(" ", LedgerEntryKind.Grant, Money.FromUnits(1m), "payment-1"))).ParamName);
        Assert.Equal("accountId", (await Assert.ThrowsAnyAsync<ArgumentException>(async () =>
            await harness.Credits.ReserveAsync(" ", Money.FromUnits(1m), "call-1"))).ParamName);
        Assert.Equal("idempotencyKey", (await Assert.ThrowsAnyAsync<ArgumentException>(async () =>
            await harness.Credits.ReserveAsync(caller.Account.Id, Money.FromUnits(1m), " "))).ParamName);

        Assert.Empty((await harness.Credits.GetLedgerAsync(" ")).Entries);
        var balance = await harness.Credits.GetBalanceAsync(caller.Account.Id);
        Assert.Equal(Money.FromUnits(10m), balance.Balance);
        Assert.Equal(Money.Zero, balance.Reserved);
    }

    [Fact]
    public async Task A_ledger_page_of_fewer_than_one_entry_is_refused()
    {
        await using var harness = new MeteredCallHarness(Now);
        var caller = await harness.CallerAsync(credit: 10m);

        var error = await Assert.ThrowsAsync<ArgumentOutOfRangeException>(async () => await harness.Credits.GetLedgerAsync(caller.Account.Id, limit: 0));

        Assert.Equal("limit", error.ParamName);
        Assert.Single((await harness.Credits.GetLedgerAsync(caller.Account.Id, limit: 1)).Entries);
    }

    [Fact]
    public async Task Each_credit_operation_is_timed_under_its_own_name()
    {
        await using var harness = new MeteredCallHarness(Now, metrics: true);
        var caller = await harness.CallerAsync(credit: 10m);
        using var durations = new MetricCollector<double>(harness.Services.GetRequiredService<IMeterFactory>(), UsageBillingMetrics.MeterName,
            "usagebilling.store.duration");

        await harness.Credits.PostAsync(caller.Account.Id, LedgerEntryKind.Grant, Money.FromUnits(1m), "payment-1");
        await harness.Credits.GetBalanceAsync(caller.Account.Id);
        await harness.Credits.GetLedgerAsync(caller.Account.Id);
        var settled = await harness.Credits.ReserveAsync(caller.Account.Id, Money.FromUnits(1m), "call-1");
        await harness.Credits.SettleAsync(settled.Reservation!.Id, Money.FromUnits(0.5m));
        var released = await harness.Credits.ReserveAsync(caller.Account.Id, Money.FromUnits(1m), "call-2");
        await harness.Credits.ReleaseAsync(released.Reservation!.Id);
        await harness.Credits.ChargeUsedAsync(caller.Account.Id, Money.FromUnits(0.25m), "ingest-1", "litellm m", CancellationToken.None);

        Assert.Equal(
            ["credits.post", "credits.balance", "credits.ledger", "credits.reserve", "credits.settle", "credits.reserve", "credits.release", "credits.charge"],
            durations.GetMeasurementSnapshot().Select(m => (string)m.Tags["usagebilling.store.operation"]!).ToArray());
        Assert.Equal(Money.FromUnits(10.25m), (await harness.Credits.GetBalanceAsync(caller.Account.Id)).Balance);
    }

    [Fact]
    public async Task A_retried_grant_with_the_same_payment_id_is_posted_once()
    {
        await using var harness = new MeteredCallHarness(Now);
        var caller = await harness.CallerAsync(credit: 10m);

        var first = await harness.Credits.PostAsync(caller.Account.Id, LedgerEntryKind.Grant, Money.FromUnits(5m), "payment-42");
        var retry = await harness.Credits.PostAsync(caller.Account.Id, LedgerEntryKind.Grant, Money.FromUnits(5m), "payment-42");

        Assert.Equal(PostStatus.Posted, first.Status);
        Assert.Equal(PostStatus.Duplicate, retry.Status);
        Assert.Equal(first.Entry, retry.Entry);
        Assert.StartsWith("led_", first.Entry!.Id, StringComparison.Ordinal);
        Assert.Equal(Money.FromUnits(15m), (await harness.Credits.GetBalanceAsync(caller.Account.Id)).Balance);
        Assert.StartsWith("res_", (await harness.Credits.ReserveAsync(caller.Account.Id, Money.FromUnits(1m), "call-1")).Reservation!.Id, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Usage_charged_after_the_fact_is_one_ledger_entry_with_a_ledger_id_that_may_take_the_balance_below_zero()
    {
        await using var harness = new MeteredCallHarness(Now);
        var caller = await harness.CallerAsync(credit: 1m);

        var charged = await harness.Credits.ChargeUsedAsync(caller.Account.Id, Money.FromUnits(1.5m), "ingest:call-7", "litellm m", CancellationToken.None);

        Assert.Equal(PostStatus.Posted, charged.Status);
        Assert.StartsWith("led_", charged.Entry!.Id, StringComparison.Ordinal);
        Assert.Equal(LedgerEntryKind.Charge, charged.Entry.Kind);
        Assert.Equal(Money.FromUnits(-1.5m), charged.Entry.Amount);
        Assert.Equal(Money.FromUnits(-0.5m), (await harness.Credits.GetBalanceAsync(caller.Account.Id)).Balance);
        var ledger = await harness.Credits.GetLedgerAsync(caller.Account.Id);
        Assert.Equal(charged.Entry.Id, ledger.Entries[0].Id);
    }

    private static Money Units(string units) => Money.FromUnits(decimal.Parse(units, System.Globalization.CultureInfo.InvariantCulture));
}
