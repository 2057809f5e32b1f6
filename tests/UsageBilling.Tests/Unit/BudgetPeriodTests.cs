using Microsoft.AspNetCore.Http;

namespace UsageBilling.Tests.Unit;

/// <summary>Spend budgets as a caller meets them at admission: the 402's numbers, its reset time, and the periods' edges.</summary>
public sealed class BudgetPeriodTests
{
    [Fact]
    public async Task A_daily_budget_counts_what_was_charged_gives_back_refused_calls_and_resets_at_utc_midnight()
    {
        await using var harness = new MeteredCallHarness(new DateTimeOffset(2026, 2, 14, 13, 45, 30, TimeSpan.Zero));
        var caller = await harness.CallerAsync(new SpendBudget { Daily = Money.FromUnits(1m) });

        // Held 0.4, charged 0.3: the budget keeps the charge, not the hold.
        await RunAsync(harness, caller, price: 0.4m, charge: 0.3m);

        var refused = await harness.AdmitAsync(harness.Call(caller, 0.8m));
        Assert.Equal(StatusCodes.Status402PaymentRequired, refused.Refusal!.Status);
        Assert.Equal(ProblemTypes.BudgetExceeded, refused.Refusal.Type);
        var problem = refused.Refusal.Extensions!;
        Assert.Equal("account.daily", problem["budget"]);
        Assert.Equal(Money.FromUnits(1m), problem["cap"]);
        Assert.Equal(Money.FromUnits(0.3m), problem["spent"]);
        Assert.Equal(Money.FromUnits(0.8m), problem["required"]);
        Assert.Equal(new DateTimeOffset(2026, 2, 15, 0, 0, 0, TimeSpan.Zero), problem["resetAt"]);
        Assert.Contains("has 0.7 left", refused.Refusal.Detail, StringComparison.Ordinal);

        // The refused call left nothing counted: exactly the rest of the cap still fits.
        await RunAsync(harness, caller, price: 0.7m, charge: 0.7m);
        Assert.Equal(StatusCodes.Status402PaymentRequired, (await harness.AdmitAsync(harness.Call(caller, 0.000000001m))).Refusal!.Status);

        // One second before midnight the day is still spent; at midnight a new day starts from zero.
        harness.Time.SetUtcNow(new DateTimeOffset(2026, 2, 14, 23, 59, 59, TimeSpan.Zero));
        Assert.NotNull((await harness.AdmitAsync(harness.Call(caller, 0.000000001m))).Refusal);
        harness.Time.SetUtcNow(new DateTimeOffset(2026, 2, 15, 0, 0, 0, TimeSpan.Zero));
        await RunAsync(harness, caller, price: 1m, charge: 1m);
    }

    [Fact]
    public async Task A_weekly_budget_runs_monday_to_monday_across_the_new_year()
    {
        // 2025-12-28 is a Sunday; the ISO week from Monday 2025-12-29 ends on Monday 2026-01-05.
        await using var harness = new MeteredCallHarness(new DateTimeOffset(2025, 12, 28, 23, 59, 59, TimeSpan.Zero));
        var caller = await harness.CallerAsync(keyBudget: new SpendBudget { Weekly = Money.FromUnits(1m) });
        await RunAsync(harness, caller, price: 0.9m, charge: 0.9m);

        // Monday: a new week, whatever the Sunday before spent.
        harness.Time.SetUtcNow(new DateTimeOffset(2025, 12, 29, 0, 0, 0, TimeSpan.Zero));
        await RunAsync(harness, caller, price: 0.6m, charge: 0.6m);

        // The year changes mid-week: the week does not.
        harness.Time.SetUtcNow(new DateTimeOffset(2026, 1, 4, 23, 59, 59, TimeSpan.Zero));
        var refused = await harness.AdmitAsync(harness.Call(caller, 0.5m));
        Assert.Equal(StatusCodes.Status402PaymentRequired, refused.Refusal!.Status);
        Assert.Equal("key.weekly", refused.Refusal.Extensions!["budget"]);
        Assert.Equal(Money.FromUnits(0.6m), refused.Refusal.Extensions["spent"]);
        Assert.Equal(new DateTimeOffset(2026, 1, 5, 0, 0, 0, TimeSpan.Zero), refused.Refusal.Extensions["resetAt"]);

        harness.Time.SetUtcNow(new DateTimeOffset(2026, 1, 5, 0, 0, 0, TimeSpan.Zero));
        await RunAsync(harness, caller, price: 1m, charge: 1m);
    }

    [Fact]
    public async Task A_call_released_without_charge_gives_its_whole_hold_back_to_the_budget()
    {
        await using var harness = new MeteredCallHarness(new DateTimeOffset(2026, 2, 14, 13, 45, 30, TimeSpan.Zero));
        var caller = await harness.CallerAsync(new SpendBudget { Monthly = Money.FromUnits(1m) });

        var admission = await harness.AdmitAsync(harness.Call(caller, 1m));
        await admission.Lease!.CompleteAsync(new CallResult(Money.FromUnits(1m), Release: true), MeteredCallHarness.Record(admission.Lease.Request));

        await RunAsync(harness, caller, price: 1m, charge: 1m);
        var refused = await harness.AdmitAsync(harness.Call(caller, 0.1m));
        Assert.Equal("account.monthly", refused.Refusal!.Extensions!["budget"]);
        Assert.Equal(Money.FromUnits(1m), refused.Refusal.Extensions["spent"]);
        Assert.Equal(new DateTimeOffset(2026, 3, 1, 0, 0, 0, TimeSpan.Zero), refused.Refusal.Extensions["resetAt"]);
    }

    private static async Task RunAsync(MeteredCallHarness harness, IApiKeyFeature caller, decimal price, decimal charge)
    {
        var admission = await harness.AdmitAsync(harness.Call(caller, price));
        Assert.Null(admission.Refusal);
        var record = await admission.Lease!.CompleteAsync(new CallResult(Money.FromUnits(charge), false), MeteredCallHarness.Record(admission.Lease.Request));
        Assert.Equal(UsageOutcomes.Charged, record.Outcome);
    }
}
