namespace UsageBilling.Tests.Unit;

/// <summary>
/// The texts and windows a metered call would otherwise make again on every call (counter keys, a second's windows, the
/// <c>RateLimit-Policy</c> value) are kept in small fixed tables: kept ones are reused, and a table never answers
/// for another key, second, plan or window.
/// </summary>
public sealed class KeptCallTextTests
{
    private static readonly DateTimeOffset Now = new(2026, 2, 14, 13, 45, 30, TimeSpan.Zero);

    [Fact]
    public void A_counter_key_is_made_once_per_window_and_reads_as_it_always_did()
    {
        var first = WindowCounterKeys.Get("key_kept", "m", 29_450_000);

        Assert.Equal("key_kept:m:29450000", first);
        Assert.Same(first, WindowCounterKeys.Get("key_kept", "m", 29_450_000));
        Assert.Equal("key_kept:m:29450001", WindowCounterKeys.Get("key_kept", "m", 29_450_001));
        Assert.Equal("key_kept:h:29450001", WindowCounterKeys.Get("key_kept", "h", 29_450_001));
        Assert.Equal("key_other:m:29450001", WindowCounterKeys.Get("key_other", "m", 29_450_001));
    }

    [Fact]
    public void Thousands_of_keys_sharing_the_table_each_get_their_own_counter_keys()
    {
        // Far more keys than slots, in the same window: many share a slot, and none is answered with another's text.
        for (var i = 0; i < 5000; i++)
        {
            Assert.Equal($"key_{i}:s:42", WindowCounterKeys.Get($"key_{i}", "s", 42));
            Assert.Equal($"key_{i}:m:42", WindowCounterKeys.Get($"key_{i}", "m", 42));
        }

        for (var i = 0; i < 5000; i++)
        {
            Assert.Equal($"key_7:s:{i}", WindowCounterKeys.Get("key_7", "s", i));
        }
    }

    [Fact]
    public void Thousands_of_keys_in_one_second_each_get_their_own_windows()
    {
        var limits = new RequestLimits { RequestsPerSecond = 5, RequestsPerMinute = 60 };
        for (var i = 0; i < 5000; i++)
        {
            var windows = LimitWindows.ForCall($"key_{i}", limits, Now, tokens: 0);
            Assert.Equal([$"key_{i}:s:{Now.ToUnixTimeSeconds()}", $"key_{i}:m:{Now.ToUnixTimeSeconds() / 60}"], windows.RequestIncrements.Select(w => w.Key));
        }

        for (var perMinute = 1; perMinute <= 3000; perMinute++)
        {
            Assert.Equal(perMinute, LimitWindows.ForCall("key_1", limits with { RequestsPerMinute = perMinute }, Now, tokens: 0).Requests[1].Limit);
        }
    }

    [Fact]
    public void A_keys_windows_are_shared_within_a_second_and_made_again_for_the_next_second_or_other_limits()
    {
        var limits = new RequestLimits { RequestsPerSecond = 5, RequestsPerMinute = 60, MonthlyRequests = 1000 };
        var first = LimitWindows.ForCall("key_shared", limits, Now, tokens: 0);

        Assert.Same(first, LimitWindows.ForCall("key_shared", limits, Now.AddMilliseconds(400), tokens: 0));
        Assert.Same(first, LimitWindows.ForCall("key_shared", new RequestLimits { RequestsPerSecond = 5, RequestsPerMinute = 60, MonthlyRequests = 1000 }, Now, 0));
        Assert.Equal(["second", "minute", "month"], first.Requests.Select(w => w.Policy));
        Assert.Equal(first.Requests.Select(w => w.CounterKey), first.RequestIncrements.Select(i => i.Key));

        var nextSecond = LimitWindows.ForCall("key_shared", limits, Now.AddSeconds(1), tokens: 0);
        Assert.NotSame(first, nextSecond);
        Assert.Equal(Now.AddSeconds(2), nextSecond.Requests[0].ResetAt);

        var otherLimits = LimitWindows.ForCall("key_shared", limits with { RequestsPerMinute = 61 }, Now, tokens: 0);
        Assert.Equal(61, otherLimits.Requests[1].Limit);
        Assert.Equal(60, LimitWindows.ForCall("key_shared", limits, Now, tokens: 0).Requests[1].Limit);

        Assert.Equal("key_else:s:" + Now.ToUnixTimeSeconds(), LimitWindows.ForCall("key_else", limits, Now, tokens: 0).Requests[0].CounterKey);
    }

    [Fact]
    public void A_call_that_counts_tokens_gets_its_own_token_window()
    {
        var limits = new RequestLimits { RequestsPerMinute = 60, TokensPerMinute = 10_000 };

        var small = LimitWindows.ForCall("key_tokens", limits, Now, tokens: 10);
        var large = LimitWindows.ForCall("key_tokens", limits, Now, tokens: 900);

        Assert.Equal(10, small.Token!.Value.Increment.Delta);
        Assert.Equal(900, large.Token!.Value.Increment.Delta);
        Assert.True(large[large.Count - 1].IsTokens);
        Assert.Same(small.Requests, large.Requests);
        var flat = LimitWindows.ForCall("key_tokens", limits, Now, tokens: 0);
        Assert.Null(flat.Token);
        Assert.Equal(1, flat.RequestIncrements.Single().Delta);
    }

    [Fact]
    public void A_calls_budget_periods_are_shared_within_a_day_and_made_again_for_another_day_key_or_budget()
    {
        var account = Account("acct_kept", new SpendBudget { Daily = Money.FromUnits(5m), Monthly = Money.FromUnits(50m) });
        var key = Key("key_kept_budget", account.Id, budget: null);
        var first = BudgetPeriods.ForCall(account, key, Now);

        Assert.Equal(BudgetPeriods.Periods(account, key, Now), first);
        Assert.Same(first, BudgetPeriods.ForCall(account, key, Now.AddHours(3)));
        Assert.Same(first, BudgetPeriods.ForCall(account with { Budget = new SpendBudget { Daily = Money.FromUnits(5m), Monthly = Money.FromUnits(50m) } }, key, Now));
        Assert.Empty(BudgetPeriods.ForCall(account with { Budget = null }, key, Now));

        var nextDay = BudgetPeriods.ForCall(account, key, Now.AddDays(1));
        Assert.Equal(BudgetPeriods.Periods(account, key, Now.AddDays(1)), nextDay);
        Assert.NotEqual(first[0].CounterKey, nextDay[0].CounterKey);

        var raised = account with { Budget = new SpendBudget { Daily = Money.FromUnits(6m), Monthly = Money.FromUnits(50m) } };
        Assert.Equal(Money.FromUnits(6m), BudgetPeriods.ForCall(raised, key, Now)[0].Cap);
        Assert.Equal(Money.FromUnits(5m), BudgetPeriods.ForCall(account, key, Now)[0].Cap);

        var keyBudget = Key("key_kept_budget", account.Id, new SpendBudget { Weekly = Money.FromUnits(9m) });
        Assert.Equal(["account.daily", "account.monthly", "key.weekly"], BudgetPeriods.ForCall(account, keyBudget, Now).Select(p => p.Name));
        for (var i = 0; i < 3000; i++)
        {
            // Far more accounts than slots: none is answered with another's periods.
            var other = Account($"acct_{i}", new SpendBudget { Daily = new Money(i + 1) });
            Assert.Equal([(other.Id, new Money(i + 1))], BudgetPeriods.ForCall(other, key, Now).Select(p => (p.CounterKey.Split(':')[2], p.Cap)));
        }
    }

    private static BillingAccount Account(string id, SpendBudget? budget)
        => new() { Id = id, Name = id, Plan = "default", CreatedAt = Now, Budget = budget };

    private static ApiKeyRecord Key(string id, string accountId, SpendBudget? budget)
        => new() { Id = id, AccountId = accountId, Name = id, DisplayPrefix = "sk-", Hash = "h", CreatedAt = Now, Budget = budget };

    [Fact]
    public void A_calls_reference_is_kept_per_method_and_path_and_never_given_for_another()
    {
        var first = UsageBillingMiddleware.ReferenceOf("POST", "/v1/chat/completions");

        Assert.Equal("POST /v1/chat/completions", first);
        Assert.Same(first, UsageBillingMiddleware.ReferenceOf("POST", "/v1/chat/completions"));
        Assert.Equal("GET /v1/chat/completions", UsageBillingMiddleware.ReferenceOf("GET", "/v1/chat/completions"));
        for (var i = 0; i < 2000; i++)
        {
            Assert.Equal($"GET /items/{i}", UsageBillingMiddleware.ReferenceOf("GET", $"/items/{i}"));
        }
    }

    [Fact]
    public void A_plans_limit_and_a_windows_reset_keep_their_texts_side_by_side()
    {
        // A large limit and a reset at a month's start (a multiple of 128 seconds): asked in turn, as every call asks,
        // each is made once, and neither pushes the other out.
        var limit = long.MaxValue / 2;
        var reset = new DateTimeOffset(2027, 1, 1, 0, 0, 0, TimeSpan.Zero).ToUnixTimeSeconds();
        var limitText = RateLimitHeaders.TextOf(limit);
        var resetText = RateLimitHeaders.TextOf(reset);

        for (var call = 0; call < 3; call++)
        {
            Assert.Same(limitText, RateLimitHeaders.TextOf(limit));
            Assert.Same(resetText, RateLimitHeaders.TextOf(reset));
        }

        Assert.Equal("4611686018427387903", limitText);
        Assert.Equal("1798761600", resetText);
        Assert.Equal("1798761601", RateLimitHeaders.TextOf(reset + 1));
    }

    [Fact]
    public void The_policy_header_is_made_once_per_plan_and_never_given_for_another()
    {
        var reset = Now.AddMinutes(1);
        LimitState[] minuteOf60 = [new("minute", 60, 1, 60, reset)];
        LimitState[] minuteOf61 = [new("minute", 61, 1, 60, reset)];
        LimitState[] both = [new("second", 5, 1, 1, Now.AddSeconds(1)), new("minute", 60, 9, 60, reset)];

        var first = RateLimitHeaders.PolicyOf(minuteOf60);

        Assert.Equal("\"minute\";q=60;w=60", first);
        Assert.Same(first, RateLimitHeaders.PolicyOf([new("minute", 60, 42, 60, reset.AddMinutes(1))]));
        Assert.Equal("\"minute\";q=61;w=60", RateLimitHeaders.PolicyOf(minuteOf61));
        Assert.Equal("\"second\";q=5;w=1, \"minute\";q=60;w=60", RateLimitHeaders.PolicyOf(both));
        Assert.Equal("\"minute\";q=60;w=60", RateLimitHeaders.PolicyOf(minuteOf60));

        // Far more plans than slots: many share one, and each still gets its own text.
        for (var i = 1; i <= 2000; i++)
        {
            Assert.Equal($"\"minute\";q={i};w=60", RateLimitHeaders.PolicyOf([new("minute", i, 1, 60, reset)]));
            Assert.Equal($"\"p{i}\";q=60;w=60", RateLimitHeaders.PolicyOf([new($"p{i}", 60, 1, 60, reset)]));
            Assert.Equal($"\"minute\";q=60;w={i}", RateLimitHeaders.PolicyOf([new("minute", 60, 1, i, reset)]));
        }
    }
}
