namespace UsageBilling.Tests.Unit;

/// <summary>An admitted call's lease is given up exactly once, and an idempotency key's released attempts make way for new ones.</summary>
public sealed class CallLeaseTests
{
    private static readonly DateTimeOffset Now = new(2026, 2, 14, 13, 45, 30, TimeSpan.Zero);
    private static readonly RequestLimits Limits = new() { RequestsPerDay = 100 };

    [Fact]
    public async Task Completing_a_lease_twice_throws_and_charges_once()
    {
        await using var harness = new MeteredCallHarness(Now);
        var caller = await harness.CallerAsync(credit: 10m);
        var lease = (await harness.AdmitAsync(harness.Call(caller, 2m, Limits))).Lease!;

        await lease.CompleteAsync(new CallResult(Money.FromUnits(1.5m), false), MeteredCallHarness.Record(lease.Request));
        await Assert.ThrowsAsync<InvalidOperationException>(async () =>
            await lease.CompleteAsync(new CallResult(Money.FromUnits(1.5m), false), MeteredCallHarness.Record(lease.Request)));

        var balance = await harness.Credits.GetBalanceAsync(caller.Account.Id);
        Assert.Equal(Money.FromUnits(8.5m), balance.Balance);
        Assert.Equal(Money.Zero, balance.Reserved);
    }

    [Fact]
    public async Task Disposing_a_completed_lease_gives_nothing_back()
    {
        await using var harness = new MeteredCallHarness(Now);
        var caller = await harness.CallerAsync(credit: 10m);
        var lease = (await harness.AdmitAsync(harness.Call(caller, 2m, Limits))).Lease!;
        await lease.CompleteAsync(new CallResult(Money.FromUnits(1.5m), false), MeteredCallHarness.Record(lease.Request));

        await lease.DisposeAsync();
        await lease.DisposeAsync();

        Assert.Equal(ReservationState.Settled, (await harness.CreditStore.FindReservationAsync(lease.Reservation!.Id))!.State);
        Assert.Equal(Money.FromUnits(8.5m), (await harness.Credits.GetBalanceAsync(caller.Account.Id)).Balance);
        Assert.Equal(new long[] { 1 }, await harness.Counters.GetAsync([DayCounter(caller)]));
    }

    [Fact]
    public async Task A_disposed_lease_cannot_be_completed_and_gave_everything_back_once()
    {
        await using var harness = new MeteredCallHarness(Now);
        var caller = await harness.CallerAsync(credit: 10m);
        var kept = (await harness.AdmitAsync(harness.Call(caller, 1m, Limits))).Lease!;
        var lease = (await harness.AdmitAsync(harness.Call(caller, 2m, Limits))).Lease!;

        await lease.DisposeAsync();
        await lease.DisposeAsync();
        await Assert.ThrowsAsync<InvalidOperationException>(async () =>
            await lease.CompleteAsync(new CallResult(Money.FromUnits(2m), false), MeteredCallHarness.Record(lease.Request)));

        Assert.Equal(ReservationState.Released, (await harness.CreditStore.FindReservationAsync(lease.Reservation!.Id))!.State);
        var balance = await harness.Credits.GetBalanceAsync(caller.Account.Id);
        Assert.Equal(Money.FromUnits(10m), balance.Balance);
        Assert.Equal(Money.FromUnits(1m), balance.Reserved);
        Assert.Equal(new long[] { 1 }, await harness.Counters.GetAsync([DayCounter(caller)]));
        await kept.DisposeAsync();
    }

    [Fact]
    public async Task Each_retry_after_a_released_attempt_is_a_new_attempt_with_its_own_hold()
    {
        await using var harness = new MeteredCallHarness(Now);
        var caller = await harness.CallerAsync(credit: 10m);
        var idempotency = new IdempotencyRequest("order-7", "fingerprint-of-the-request");
        var reservations = new List<string>();

        for (var attempt = 1; attempt <= 4; attempt++)
        {
            var admission = await harness.AdmitAsync(harness.Call(caller, 2m, Limits, idempotency: idempotency));
            Assert.Null(admission.Refusal);
            Assert.Null(admission.Replay);
            reservations.Add(admission.Lease!.Reservation!.Id);
            Assert.Equal(Money.FromUnits(2m), (await harness.Credits.GetBalanceAsync(caller.Account.Id)).Reserved);

            // Not billable (the upstream failed): released, so the key may be tried again.
            await admission.Lease.CompleteAsync(new CallResult(Money.Zero, Release: true), MeteredCallHarness.Record(admission.Lease.Request));
        }

        Assert.Equal(4, reservations.Distinct().Count());
        Assert.Equal(Money.FromUnits(10m), (await harness.Credits.GetBalanceAsync(caller.Account.Id)).Balance);

        // A completed attempt ends the key: the next call with it is answered from it, not run.
        var charged = await harness.AdmitAsync(harness.Call(caller, 2m, Limits, idempotency: idempotency));
        await charged.Lease!.CompleteAsync(new CallResult(Money.FromUnits(1m), false), MeteredCallHarness.Record(charged.Lease.Request));
        var replay = await harness.AdmitAsync(harness.Call(caller, 2m, Limits, idempotency: idempotency));
        Assert.NotNull(replay.Replay);
        Assert.Equal(Money.FromUnits(1m), replay.Replay!.Charged);
        Assert.Equal(Money.FromUnits(9m), (await harness.Credits.GetBalanceAsync(caller.Account.Id)).Balance);
    }

    private static string DayCounter(IApiKeyFeature caller)
        => LimitWindows.Windows(caller.Key.Id, Limits, Now).Single().CounterKey;
}
