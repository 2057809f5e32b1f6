using Microsoft.AspNetCore.Http;

namespace UsageBilling.Tests.Unit;

/// <summary>A key's limits as its plan and its own overrides make them, and how they are enforced and reported.</summary>
public sealed class RequestLimitOverrideTests
{
    private static readonly DateTimeOffset Now = new(2026, 2, 14, 13, 45, 30, TimeSpan.Zero);

    private static readonly RequestLimits Plan = new()
    {
        RequestsPerSecond = 1, RequestsPerMinute = 2, RequestsPerHour = 3, RequestsPerDay = 4, MonthlyRequests = 5, TokensPerMinute = 6,
    };

    [Fact]
    public void A_key_without_overrides_has_its_plans_limits()
    {
        Assert.Equal(Plan, Plan.OverriddenBy(null));
        Assert.Equal(Plan, Plan.OverriddenBy(new RequestLimits()));
    }

    [Fact]
    public void A_key_that_overrides_every_window_has_its_own_limits()
    {
        var own = new RequestLimits
        {
            RequestsPerSecond = 10, RequestsPerMinute = 20, RequestsPerHour = 30, RequestsPerDay = 40, MonthlyRequests = 50, TokensPerMinute = 60,
        };

        Assert.Equal(own, Plan.OverriddenBy(own));
    }

    [Theory]
    [InlineData(nameof(RequestLimits.RequestsPerSecond))]
    [InlineData(nameof(RequestLimits.RequestsPerMinute))]
    [InlineData(nameof(RequestLimits.RequestsPerHour))]
    [InlineData(nameof(RequestLimits.RequestsPerDay))]
    [InlineData(nameof(RequestLimits.MonthlyRequests))]
    [InlineData(nameof(RequestLimits.TokensPerMinute))]
    public void Overriding_one_window_keeps_the_plans_other_windows(string window)
    {
        var effective = Plan.OverriddenBy(With(new RequestLimits(), window, 1000));

        Assert.Equal(With(Plan, window, 1000), effective);
    }

    [Fact]
    public void A_plan_without_a_window_gets_it_from_the_key()
    {
        var plan = new RequestLimits { RequestsPerMinute = 60 };

        var effective = plan.OverriddenBy(new RequestLimits { RequestsPerHour = 100, RequestsPerDay = 500, TokensPerMinute = 9000 });

        Assert.Equal(new RequestLimits { RequestsPerMinute = 60, RequestsPerHour = 100, RequestsPerDay = 500, TokensPerMinute = 9000 }, effective);
    }

    [Theory]
    [InlineData(nameof(RequestLimits.RequestsPerSecond), 0)]
    [InlineData(nameof(RequestLimits.RequestsPerMinute), -1)]
    [InlineData(nameof(RequestLimits.RequestsPerHour), 0)]
    [InlineData(nameof(RequestLimits.RequestsPerDay), 0)]
    [InlineData(nameof(RequestLimits.MonthlyRequests), 0)]
    [InlineData(nameof(RequestLimits.TokensPerMinute), 0)]
    public void A_plan_limit_below_one_refuses_start_up_and_names_the_window(string window, long value)
    {
        var options = new UsageBillingOptions();
        options.Plans.Limits["pro"] = With(new RequestLimits { RequestsPerMinute = 60 }, window, value);

        var result = new UsageBillingOptionsValidator().Validate(null, options);

        Assert.True(result.Failed);
        var failure = Assert.Single(result.Failures!);
        Assert.Contains($"UsageBilling:Plans:Limits:pro:{window} must be at least 1", failure, StringComparison.Ordinal);
    }

    [Fact]
    public void Plan_limits_of_one_or_more_pass_validation()
    {
        var options = new UsageBillingOptions();
        options.Plans.Limits["pro"] = Plan;

        Assert.True(new UsageBillingOptionsValidator().Validate(null, options).Succeeded);
    }

    [Fact]
    public async Task When_two_windows_have_the_same_remaining_the_headers_name_the_one_that_resets_last()
    {
        await using var harness = new MeteredCallHarness(Now);
        var caller = await harness.CallerAsync();
        var limits = new RequestLimits { RequestsPerSecond = 5, RequestsPerMinute = 5, RequestsPerHour = 100 };

        var admission = await harness.AdmitAsync(harness.Call(caller, 0m, limits));
        var response = new DefaultHttpContext().Response;
        RateLimitHeaders.Apply(response, admission.Counts.Limits, Now);

        // Second and minute both have 4 left; waiting out the second does not help, so the minute is reported.
        Assert.Equal("5", response.Headers["X-RateLimit-Limit"].ToString());
        Assert.Equal("4", response.Headers["X-RateLimit-Remaining"].ToString());
        Assert.Equal(new DateTimeOffset(2026, 2, 14, 13, 46, 0, TimeSpan.Zero).ToUnixTimeSeconds().ToString(System.Globalization.CultureInfo.InvariantCulture),
            response.Headers["X-RateLimit-Reset"].ToString());
    }

    [Fact]
    public async Task The_tightest_window_is_reported_even_when_it_resets_first()
    {
        await using var harness = new MeteredCallHarness(Now);
        var caller = await harness.CallerAsync();
        var limits = new RequestLimits { RequestsPerSecond = 2, RequestsPerMinute = 5 };

        var admission = await harness.AdmitAsync(harness.Call(caller, 0m, limits));
        var response = new DefaultHttpContext().Response;
        RateLimitHeaders.Apply(response, admission.Counts.Limits, Now);

        Assert.Equal("2", response.Headers["X-RateLimit-Limit"].ToString());
        Assert.Equal("1", response.Headers["X-RateLimit-Remaining"].ToString());
    }

    [Fact]
    public async Task Tokens_per_minute_count_the_estimate_and_completion_replaces_it_with_the_actual_tokens()
    {
        await using var harness = new MeteredCallHarness(Now);
        var caller = await harness.CallerAsync();
        var limits = new RequestLimits { TokensPerMinute = 1000 };

        var first = await harness.AdmitAsync(harness.Call(caller, 0.1m, limits, llm: MeteredCallHarness.Tokens(800)));
        Assert.NotNull(first.Lease);
        Assert.Equal(200, first.Counts.Limits.TokenBinding!.Value.Remaining);

        // While the first call runs, its estimate counts: a second estimate of 800 does not fit.
        var refused = await harness.AdmitAsync(harness.Call(caller, 0.1m, limits, llm: MeteredCallHarness.Tokens(800)));
        Assert.Equal(StatusCodes.Status429TooManyRequests, refused.Refusal!.Status);
        Assert.Equal("tokens-minute", refused.Refusal.Extensions!["limit"]);

        // It used 100 tokens: the window now holds 100, and the same second call fits.
        await first.Lease!.CompleteAsync(new CallResult(Money.FromUnits(0.05m), false, ActualTokens: 100), MeteredCallHarness.Record(first.Lease.Request));
        var second = await harness.AdmitAsync(harness.Call(caller, 0.1m, limits, llm: MeteredCallHarness.Tokens(800)));
        Assert.NotNull(second.Lease);
        Assert.Equal(100, second.Counts.Limits.TokenBinding!.Value.Remaining);

        // A call that used more than it estimated is counted for what it used.
        await second.Lease!.CompleteAsync(new CallResult(Money.FromUnits(0.05m), false, ActualTokens: 950), MeteredCallHarness.Record(second.Lease.Request));
        var third = await harness.AdmitAsync(harness.Call(caller, 0.1m, limits, llm: MeteredCallHarness.Tokens(1)));
        Assert.Equal(StatusCodes.Status429TooManyRequests, third.Refusal!.Status);
    }

    [Fact]
    public async Task Request_headers_never_report_the_token_window_even_when_it_is_tighter_and_a_call_without_tokens_gets_no_token_headers()
    {
        await using var harness = new MeteredCallHarness(Now);
        var caller = await harness.CallerAsync();
        var limits = new RequestLimits { RequestsPerMinute = 100, TokensPerMinute = 1000 };

        var llm = await harness.AdmitAsync(harness.Call(caller, 0m, limits, llm: MeteredCallHarness.Tokens(950)));
        var response = new DefaultHttpContext().Response;
        RateLimitHeaders.Apply(response, llm.Counts.Limits, Now);
        Assert.Equal("100", response.Headers["X-RateLimit-Limit"].ToString());
        Assert.Equal("99", response.Headers["X-RateLimit-Remaining"].ToString());
        Assert.Equal("1000", response.Headers["X-RateLimit-Limit-Tokens"].ToString());
        Assert.Equal("50", response.Headers["X-RateLimit-Remaining-Tokens"].ToString());

        var plain = await harness.AdmitAsync(harness.Call(caller, 0m, limits));
        response = new DefaultHttpContext().Response;
        RateLimitHeaders.Apply(response, plain.Counts.Limits, Now);
        Assert.Equal("98", response.Headers["X-RateLimit-Remaining"].ToString());
        Assert.False(response.Headers.ContainsKey("X-RateLimit-Remaining-Tokens"));
    }

    [Fact]
    public async Task Actual_tokens_of_a_call_on_a_key_without_a_token_limit_leave_its_request_windows_alone()
    {
        await using var harness = new MeteredCallHarness(Now);
        var caller = await harness.CallerAsync();
        var limits = new RequestLimits { RequestsPerMinute = 100 };

        var first = await harness.AdmitAsync(harness.Call(caller, 0.1m, limits, llm: MeteredCallHarness.Tokens(800)));
        await first.Lease!.CompleteAsync(new CallResult(Money.FromUnits(0.05m), false, ActualTokens: 500), MeteredCallHarness.Record(first.Lease.Request));

        var second = await harness.AdmitAsync(harness.Call(caller, 0.1m, limits));
        Assert.NotNull(second.Lease);
        Assert.Equal(98, second.Counts.Limits.Binding!.Value.Remaining);
    }

    [Fact]
    public async Task When_two_windows_are_exceeded_the_refusal_names_the_one_that_resets_last()
    {
        await using var harness = new MeteredCallHarness(Now);
        var caller = await harness.CallerAsync();
        var limits = new RequestLimits { RequestsPerSecond = 1, RequestsPerMinute = 1, RequestsPerHour = 100 };
        Assert.NotNull((await harness.AdmitAsync(harness.Call(caller, 0m, limits))).Lease);

        var refused = await harness.AdmitAsync(harness.Call(caller, 0m, limits));
        Assert.Equal(StatusCodes.Status429TooManyRequests, refused.Refusal!.Status);

        // The second and the minute are both used up; waiting out the second would not help, so the minute is named.
        var minuteEnd = new DateTimeOffset(2026, 2, 14, 13, 46, 0, TimeSpan.Zero);
        Assert.Equal("minute", refused.Refusal.Extensions!["limit"]);
        Assert.Equal(minuteEnd, refused.Refusal.Extensions["resetAt"]);
        var response = new DefaultHttpContext().Response;
        RateLimitHeaders.Apply(response, refused.Counts.Limits, Now);
        Assert.Equal("30", response.Headers.RetryAfter.ToString());
    }

    [Fact]
    public async Task Each_key_has_its_own_token_window_and_it_resets_at_the_end_of_the_minute()
    {
        await using var harness = new MeteredCallHarness(Now);
        var first = await harness.CallerAsync();
        var other = await harness.CallerAsync();
        var limits = new RequestLimits { TokensPerMinute = 1000 };
        var minuteEnd = new DateTimeOffset(2026, 2, 14, 13, 46, 0, TimeSpan.Zero);

        Assert.NotNull((await harness.AdmitAsync(harness.Call(first, 0m, limits, llm: MeteredCallHarness.Tokens(800)))).Lease);

        // Another key's 800 tokens fit: it does not share the first key's window.
        var admitted = await harness.AdmitAsync(harness.Call(other, 0m, limits, llm: MeteredCallHarness.Tokens(800)));
        Assert.NotNull(admitted.Lease);
        var response = new DefaultHttpContext().Response;
        RateLimitHeaders.Apply(response, admitted.Counts.Limits, Now);
        Assert.Equal("200", response.Headers["X-RateLimit-Remaining-Tokens"].ToString());
        Assert.Equal(minuteEnd.ToUnixTimeSeconds().ToString(System.Globalization.CultureInfo.InvariantCulture), response.Headers["X-RateLimit-Reset-Tokens"].ToString());

        // The first key's own window is full until the minute ends, then it starts again.
        var refused = await harness.AdmitAsync(harness.Call(first, 0m, limits, llm: MeteredCallHarness.Tokens(800)));
        Assert.Equal(StatusCodes.Status429TooManyRequests, refused.Refusal!.Status);
        Assert.Equal("tokens-minute", refused.Refusal.Extensions!["limit"]);
        Assert.Equal(minuteEnd, refused.Refusal.Extensions["resetAt"]);
        harness.Time.Advance(minuteEnd - Now);
        var nextMinute = await harness.AdmitAsync(harness.Call(first, 0m, limits, llm: MeteredCallHarness.Tokens(800)));
        Assert.NotNull(nextMinute.Lease);
        Assert.Equal(200, nextMinute.Counts.Limits.TokenBinding!.Value.Remaining);
    }

    [Fact]
    public async Task Actual_tokens_of_a_call_on_a_key_without_any_limit_or_budget_complete_the_call_and_charge_it()
    {
        await using var harness = new MeteredCallHarness(Now);
        var caller = await harness.CallerAsync(credit: 1m);

        var admitted = await harness.AdmitAsync(harness.Call(caller, 0.1m, new RequestLimits(), llm: MeteredCallHarness.Tokens(800)));
        await admitted.Lease!.CompleteAsync(new CallResult(Money.FromUnits(0.05m), false, ActualTokens: 500), MeteredCallHarness.Record(admitted.Lease.Request));

        Assert.Equal(new CreditBalance(Money.FromUnits(0.95m), Money.Zero), await harness.Credits.GetBalanceAsync(caller.Account.Id));
    }

    private static RequestLimits With(RequestLimits limits, string window, long value) => window switch
    {
        nameof(RequestLimits.RequestsPerSecond) => limits with { RequestsPerSecond = value },
        nameof(RequestLimits.RequestsPerMinute) => limits with { RequestsPerMinute = value },
        nameof(RequestLimits.RequestsPerHour) => limits with { RequestsPerHour = value },
        nameof(RequestLimits.RequestsPerDay) => limits with { RequestsPerDay = value },
        nameof(RequestLimits.MonthlyRequests) => limits with { MonthlyRequests = value },
        nameof(RequestLimits.TokensPerMinute) => limits with { TokensPerMinute = value },
        _ => throw new ArgumentOutOfRangeException(nameof(window)),
    };
}
