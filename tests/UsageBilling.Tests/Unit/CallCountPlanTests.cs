using CsCheck;

namespace UsageBilling.Tests.Unit;

/// <summary>
/// A group admission asks each call whether its counts allow it (<see cref="CallCountPlan.Allows"/>) before it builds
/// the counts the caller sees (<see cref="CallCountPlan.Evaluate"/>): the two must never disagree, or a call would be
/// admitted over a limit or refused with headers saying it was within them.
/// </summary>
public sealed class CallCountPlanTests
{
    private static readonly DateTimeOffset Now = new(2026, 3, 9, 10, 30, 0, TimeSpan.Zero);

    [Fact]
    public void Allows_answers_as_the_evaluated_counts_do_for_any_limits_and_counter_values()
    {
        var limits = Gen.Long[0, 5].Array[0, 4];
        var caps = Gen.Long[0, 5].Array[0, 3];
        Gen.Select(limits, caps).SelectMany((l, c) => Gen.Long[-1, 7].Array[l.Length + c.Length].Select(values => (l, c, values)))
            .Sample(sample =>
            {
                var (windowLimits, periodCaps, values) = sample;
                var plan = Plan(windowLimits, periodCaps);

                Assert.Equal(plan.Evaluate(values).Allowed, plan.Allows(values));
            }, iter: 2_000);
    }

    [Theory]
    [InlineData(new long[] { 3, 3 }, new long[] { 3, 3 }, true)]
    [InlineData(new long[] { 3, 3 }, new long[] { 3, 4 }, false)]
    [InlineData(new long[] { 3, 3 }, new long[] { 4, 4 }, false)]
    [InlineData(new long[] { 0 }, new long[] { 1 }, false)]
    public void A_value_at_its_limit_is_allowed_and_one_over_is_not(long[] windowLimits, long[] values, bool allowed)
        => Assert.Equal(allowed, Plan(windowLimits, []).Allows(values));

    [Fact]
    public void A_budget_over_its_cap_refuses_even_when_every_window_allows()
    {
        var plan = Plan([10], [Money.FromUnits(1m).Nanos]);

        Assert.True(plan.Allows([10, Money.FromUnits(1m).Nanos]));
        Assert.False(plan.Allows([10, Money.FromUnits(1m).Nanos + 1]));
    }

    private static CallCountPlan Plan(long[] windowLimits, long[] periodCaps)
    {
        var windows = windowLimits
            .Select((limit, i) => new LimitWindows.Window($"w{i}", $"key:w{i}", limit, 60, Now.AddMinutes(1)))
            .ToArray();
        var periods = periodCaps
            .Select((cap, i) => ($"p{i}", new Money(cap), $"spend:p{i}", Now.AddDays(1)))
            .ToList();
        return new CallCountPlan(new CallWindows("key", new RequestLimits(), Now.ToUnixTimeSeconds(), windows), periods, new Money(1));
    }
}
