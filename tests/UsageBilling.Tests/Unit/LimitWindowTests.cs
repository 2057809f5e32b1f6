using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace UsageBilling.Tests.Unit;

public sealed class LimitWindowTests
{
    private static readonly DateTimeOffset Now = new(2026, 2, 14, 13, 45, 30, TimeSpan.Zero);

    [Fact]
    public void Windows_are_aligned_to_utc_and_the_month_to_the_calendar()
    {
        var windows = LimitWindows.Windows("key_1", new RequestLimits
        {
            RequestsPerSecond = 1, RequestsPerMinute = 2, RequestsPerHour = 3, RequestsPerDay = 4, MonthlyRequests = 5,
        }, Now);

        Assert.Equal(["second", "minute", "hour", "day", "month"], windows.Select(w => w.Policy));
        Assert.Equal(Now.AddSeconds(1), windows[0].ResetAt);
        Assert.Equal(new DateTimeOffset(2026, 2, 14, 13, 46, 0, TimeSpan.Zero), windows[1].ResetAt);
        Assert.Equal(new DateTimeOffset(2026, 2, 14, 14, 0, 0, TimeSpan.Zero), windows[2].ResetAt);
        Assert.Equal(new DateTimeOffset(2026, 2, 15, 0, 0, 0, TimeSpan.Zero), windows[3].ResetAt);
        Assert.Equal(new DateTimeOffset(2026, 3, 1, 0, 0, 0, TimeSpan.Zero), windows[4].ResetAt);
        Assert.Equal(28 * 86_400, windows[4].Seconds);
        Assert.Equal("key_1:mo:202602", windows[4].CounterKey);
        Assert.Equal(windows.Length, windows.Select(w => w.CounterKey).Distinct().Count());
    }

    [Fact]
    public void A_call_counting_tokens_gets_the_request_windows_then_its_token_window_and_leaves_the_kept_windows_alone()
    {
        var limits = new RequestLimits { RequestsPerSecond = 10, RequestsPerMinute = 20, TokensPerMinute = 1000 };
        var flat = LimitWindows.ForCall("key_tokens", limits, Now, tokens: 0);

        var llm = LimitWindows.ForCall("key_tokens", limits, Now, tokens: 37);
        var later = LimitWindows.ForCall("key_tokens", limits, Now, tokens: 0);

        var llmWindows = Enumerable.Range(0, llm.Count).Select(i => llm[i]).ToArray();
        Assert.Equal(["second", "minute", "tokens-minute"], llmWindows.Select(w => w.Policy));
        Assert.Same(flat.Requests, llm.Requests);
        Assert.Same(flat.RequestIncrements, llm.RequestIncrements);
        Assert.Equal(new LimitWindows.Window("tokens-minute", "key_tokens:tm:" + (Now.ToUnixTimeSeconds() / 60), 1000, 60,
            new DateTimeOffset(2026, 2, 14, 13, 46, 0, TimeSpan.Zero), 37, IsTokens: true), llm[2]);
        var increments = new CounterIncrement[llm.Count];
        llm.CopyIncrementsTo(increments);
        Assert.Equal(llmWindows.Select(w => new CounterIncrement(w.CounterKey, w.Delta, w.ResetAt)), increments);
        Assert.Same(flat, later);
        Assert.Null(later.Token);
        Assert.Equal(["second", "minute"], later.Requests.Select(w => w.Policy));
        Assert.Equal(2, later.RequestIncrements.Length);
    }

    [Fact]
    public async Task Concurrent_requests_never_together_exceed_a_limit()
    {
        await using var services = Services();
        var limits = new RequestLimits { RequestsPerMinute = 50 };
        var caller = await CallerAsync(services, budget: null);

        var admissions = await Task.WhenAll(Enumerable.Range(0, 500).Select(i =>
            Task.Run(async () => await services.GetRequiredService<MeteredCalls>().AdmitAsync(Call(caller, limits, $"req_{i}", 0m), CancellationToken.None))));

        Assert.Equal(50, admissions.Count(a => a.Lease is not null));
        Assert.All(admissions.Where(a => a.Lease is null), a => Assert.Equal("minute", a.Counts.Limits.Exceeded!.Value.Policy));
    }

    [Fact]
    public async Task A_refused_request_gives_its_counts_back_in_every_window_and_budget()
    {
        await using var services = Services();
        var counters = services.GetRequiredService<ICounterStore>();
        var calls = services.GetRequiredService<MeteredCalls>();
        var limits = new RequestLimits { RequestsPerSecond = 1, RequestsPerDay = 100 };
        var caller = await CallerAsync(services, new SpendBudget { Daily = Money.FromUnits(1m) });

        var first = await calls.AdmitAsync(Call(caller, limits, "req_1", 0.4m), CancellationToken.None);
        Assert.NotNull(first.Lease);
        var limited = await calls.AdmitAsync(Call(caller, limits, "req_2", 0.4m), CancellationToken.None);
        Assert.Equal(StatusCodes.Status429TooManyRequests, limited.Refusal!.Status);
        Assert.Equal(0, limited.Counts.Limits.Binding!.Value.Remaining);
        var overBudget = await calls.AdmitAsync(Call(caller, new RequestLimits(), "req_3", 0.7m), CancellationToken.None);
        Assert.Equal(ProblemTypes.BudgetExceeded, overBudget.Refusal!.Type);
        Assert.Equal(Money.FromUnits(0.4m), overBudget.Refusal.Extensions!["spent"]);

        var keys = LimitWindows.Windows(caller.Key.Id, limits, Now).Select(w => w.CounterKey)
            .Append($"spend:account:{caller.Account.Id}:d:{Now.ToUnixTimeSeconds() / 86_400}").ToList();
        Assert.Equal(new long[] { 1, 1, Money.FromUnits(0.4m).Nanos }, await counters.GetAsync(keys));

        // A lease disposed without completing gives back everything it took.
        await first.Lease!.DisposeAsync();
        Assert.Equal(new long[] { 0, 0, 0 }, await counters.GetAsync(keys));
    }

    private static ServiceProvider Services()
    {
        var services = new ServiceCollection().AddLogging();
        services.AddSingleton<TimeProvider>(new FakeTimeProvider(Now));
        services.AddUsageBilling();
        return services.BuildServiceProvider();
    }

    private static async Task<IApiKeyFeature> CallerAsync(IServiceProvider services, SpendBudget? budget)
    {
        var accounts = services.GetRequiredService<AccountManager>();
        var account = await accounts.CreateAsync("Test");
        if (budget is not null)
        {
            account = (await accounts.SetBudgetAsync(account.Id, budget))!;
        }

        await services.GetRequiredService<CreditManager>().PostAsync(account.Id, LedgerEntryKind.Grant, Money.FromUnits(100m));
        var key = await services.GetRequiredService<ApiKeyManager>().CreateAsync(account.Id, "k");
        return new ApiKeyFeature(key.Key, account);
    }

    private static CallRequest Call(IApiKeyFeature caller, RequestLimits limits, string requestId, decimal price)
        => new(caller, new CallQuote(Money.FromUnits(price)), limits, requestId, "GET /x", null, Now);

    [Fact]
    public async Task Rejections_are_counted_by_reason_in_metrics()
    {
        var services = new ServiceCollection().AddMetrics().AddSingleton<UsageBillingMetrics>().BuildServiceProvider();
        var metrics = services.GetRequiredService<UsageBillingMetrics>();
        using var collector = new MetricCollector<long>(services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>(),
            UsageBillingMetrics.MeterName, "usagebilling.requests.rejected");

        metrics.RequestRejected(UsageOutcomes.RateLimited);
        metrics.RequestRejected(UsageOutcomes.RateLimited);
        metrics.RequestRejected(UsageOutcomes.InsufficientCredits);

        await collector.WaitForMeasurementsAsync(3, TimeSpan.FromSeconds(5));
        var byReason = collector.GetMeasurementSnapshot().GroupBy(m => m.Tags["usagebilling.reason"]).ToDictionary(g => g.Key!, g => g.Sum(m => m.Value));
        Assert.Equal(2, byReason[UsageOutcomes.RateLimited]);
        Assert.Equal(1, byReason[UsageOutcomes.InsufficientCredits]);
        await services.DisposeAsync();
    }

    [Fact]
    public async Task The_in_memory_counter_store_drops_expired_windows()
    {
        var time = new FakeTimeProvider(Now);
        var store = new InMemoryRateLimitCounterStore(time);
        await store.IncrementAsync([new CounterIncrement("old", 1, Now.AddSeconds(1))]);
        time.Advance(TimeSpan.FromMinutes(1));
        for (var i = 0; i < 10_000; i++)
        {
            await store.IncrementAsync([new CounterIncrement("current", 1, Now.AddHours(1))]);
        }

        var values = await store.GetAsync(["old", "current"]);
        Assert.Equal(new long[] { 0, 10_000 }, values);
    }
}
