using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Json;
using Microsoft.Extensions.DependencyInjection;

namespace UsageBilling.Tests.Integration;

public sealed class BudgetAndAlertTests : IDisposable
{
    private readonly CollectingNotifier _events = new();
    private readonly MeteredApiFactory _factory;

    public BudgetAndAlertTests()
    {
        _factory = new MeteredApiFactory { ConfigureTestServices = s => s.AddSingleton<IBillingNotifier>(_events) };
    }

    public void Dispose() => _factory.Dispose();

    [Fact]
    public async Task An_account_budget_refuses_with_402_naming_it_and_a_new_month_starts_from_zero()
    {
        var (accountId, key, _) = await _factory.CreateCustomerAsync(credits: 1m, plan: "unmetered");
        await SetAccountBudgetAsync(accountId, new { monthly = 0.03m });
        _factory.Time.SetUtcNow(new DateTimeOffset(2026, 11, 30, 23, 0, 0, TimeSpan.Zero));
        using var client = _factory.CreateKeyClient(key);

        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/v1/quote")).StatusCode);
        }

        var refused = await client.GetAsync("/v1/quote");
        var problem = await MeteredApiFactory.ReadProblemAsync(refused, 402, ProblemTypes.BudgetExceeded);
        Assert.Equal("account.monthly", problem.GetProperty("budget").GetString());
        Assert.Equal(0.03m, problem.GetProperty("cap").GetDecimal());
        Assert.Equal(new DateTimeOffset(2026, 12, 1, 0, 0, 0, TimeSpan.Zero), problem.GetProperty("resetAt").GetDateTimeOffset());
        Assert.Equal((0.97m, 0m), await _factory.GetBalanceAsync(accountId));

        _factory.Time.Advance(TimeSpan.FromHours(1));
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/v1/quote")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/v1/quote")).StatusCode);
        using var limits = await client.GetAsync("/v1/billing/limits");
        var budget = (await MeteredApiFactory.ReadJsonAsync(limits)).GetProperty("budgets")[0];
        Assert.Equal(0.02m, budget.GetProperty("spent").GetDecimal());
        Assert.Equal(0.01m, budget.GetProperty("remaining").GetDecimal());
    }

    [Fact]
    public async Task A_key_budget_holds_under_hundreds_of_parallel_calls()
    {
        var (accountId, key, keyId) = await _factory.CreateCustomerAsync(credits: 10m, plan: "unmetered");
        using var admin = _factory.CreateAdminClient();
        (await admin.PatchAsJsonAsync($"/admin/billing/keys/{keyId}", new { budget = new { daily = 0.5m } })).EnsureSuccessStatusCode();
        using var client = _factory.CreateKeyClient(key);

        var responses = await Task.WhenAll(Enumerable.Range(0, 300).Select(_ => client.GetAsync("/v1/quote")));

        Assert.Equal(50, responses.Count(r => r.StatusCode == HttpStatusCode.OK));
        Assert.Equal(250, responses.Count(r => r.StatusCode == HttpStatusCode.PaymentRequired));
        Assert.Equal((9.5m, 0m), await _factory.GetBalanceAsync(accountId));
    }

    [Fact]
    public async Task Each_budget_threshold_raises_one_event_per_period_however_many_calls_cross_it()
    {
        var (accountId, key, _) = await _factory.CreateCustomerAsync(credits: 10m, plan: "unmetered");
        await SetAccountBudgetAsync(accountId, new { daily = 0.1m });
        using var client = _factory.CreateKeyClient(key);

        await Task.WhenAll(Enumerable.Range(0, 40).Select(_ => client.GetAsync("/v1/quote")));
        var first = await _events.WaitForAsync(3);
        Assert.Equal([50, 80, 100], first.Select(e => e.ThresholdPercent!.Value).Order());
        Assert.All(first, e =>
        {
            Assert.Equal(BillingEventTypes.BudgetThreshold, e.Type);
            Assert.Equal("account.daily", e.Budget);
            Assert.Equal(accountId, e.AccountId);
            Assert.Equal(Money.FromUnits(0.1m), e.Cap);
        });

        // The next day is a new period: the thresholds are raised again, once each.
        _factory.Time.Advance(TimeSpan.FromDays(1));
        await Task.WhenAll(Enumerable.Range(0, 40).Select(_ => client.GetAsync("/v1/quote")));
        Assert.Equal(6, (await _events.WaitForAsync(6)).Count);
        await Task.Delay(200);
        Assert.Equal(6, _events.Events.Count);
    }

    [Fact]
    public async Task A_low_balance_raises_one_event_per_month()
    {
        using var factory = new MeteredApiFactory
        {
            ConfigureTestServices = s =>
            {
                s.AddSingleton<IBillingNotifier>(_events);
                s.Configure<UsageBillingOptions>(o => o.Alerts.LowBalance = Money.FromUnits(0.05m));
            },
        };
        var (accountId, key, _) = await factory.CreateCustomerAsync(credits: 0.1m, plan: "unmetered");
        using var client = factory.CreateKeyClient(key);

        for (var i = 0; i < 8; i++)
        {
            Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/v1/quote")).StatusCode);
        }

        var low = Assert.Single(await _events.WaitForAsync(1));
        Assert.Equal(BillingEventTypes.LowBalance, low.Type);
        Assert.Equal(Money.FromUnits(0.04m), low.Available);
        await Task.Delay(200);
        Assert.Single(_events.Events);
    }

    [Fact]
    public async Task Once_an_event_is_raised_the_calls_after_it_write_no_alert_counter()
    {
        var counters = new AlertCountingStore();
        using var factory = new MeteredApiFactory
        {
            ConfigureTestServices = s =>
            {
                s.AddSingleton<IBillingNotifier>(_events);
                s.AddSingleton<ICounterStore>(sp => counters.Wrapping(sp.GetRequiredService<InMemoryRateLimitCounterStore>()));
                s.Configure<UsageBillingOptions>(o => o.Alerts.LowBalance = Money.FromUnits(0.05m));
            },
        };
        var (accountId, key, _) = await factory.CreateCustomerAsync(credits: 0.1m, plan: "unmetered");
        using (var admin = factory.CreateAdminClient())
        {
            (await admin.PutAsJsonAsync($"/admin/billing/accounts/{accountId}/budget", new { daily = 0.1m })).EnsureSuccessStatusCode();
        }

        using var client = factory.CreateKeyClient(key);
        for (var i = 0; i < 9; i++)
        {
            Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/v1/quote")).StatusCode);
        }

        // 50 % of the budget at the fifth call, 80 % at the eighth, the balance under 0.05 at the sixth: three events,
        // each counter written once, by the call that raised it; the calls after it neither count it nor read the balance for it.
        var raised = await _events.WaitForAsync(3);
        Assert.Equal(["50", "80", "low"], raised.Select(e => e.Type == BillingEventTypes.LowBalance ? "low" : e.ThresholdPercent!.Value.ToString(System.Globalization.CultureInfo.InvariantCulture)).Order());
        Assert.Equal(3, counters.AlertIncrements);
    }

    [Fact]
    public async Task A_failing_notifier_never_fails_the_request()
    {
        using var factory = new MeteredApiFactory { ConfigureTestServices = s => s.AddSingleton<IBillingNotifier>(new ThrowingNotifier()) };
        var (accountId, key, _) = await factory.CreateCustomerAsync(credits: 1m, plan: "unmetered");
        using var admin = factory.CreateAdminClient();
        (await admin.PutAsJsonAsync($"/admin/billing/accounts/{accountId}/budget", new { daily = 0.01m })).EnsureSuccessStatusCode();
        using var client = factory.CreateKeyClient(key);

        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/v1/quote")).StatusCode);
        Assert.Equal((0.99m, 0m), await factory.GetBalanceAsync(accountId));
    }

    [Fact]
    public async Task Invalid_budgets_are_400()
    {
        var (accountId, _, keyId) = await _factory.CreateCustomerAsync(credits: 0m);
        using var admin = _factory.CreateAdminClient();
        await MeteredApiFactory.ReadProblemAsync(await admin.PutAsJsonAsync($"/admin/billing/accounts/{accountId}/budget", new { daily = -1m }), 400, ProblemTypes.ValidationFailed);
        await MeteredApiFactory.ReadProblemAsync(await admin.PatchAsJsonAsync($"/admin/billing/keys/{keyId}", new { budget = new { weekly = -0.5m } }), 400, ProblemTypes.ValidationFailed);
        await MeteredApiFactory.ReadProblemAsync(await admin.PutAsJsonAsync("/admin/billing/accounts/acct_nope/budget", new { daily = 1m }), 404, ProblemTypes.NotFound);
    }

    private async Task SetAccountBudgetAsync(string accountId, object budget)
    {
        using var admin = _factory.CreateAdminClient();
        var response = await admin.PutAsJsonAsync($"/admin/billing/accounts/{accountId}/budget", budget);
        await MeteredApiFactory.ReadJsonAsync(response);
    }

    private sealed class CollectingNotifier : IBillingNotifier
    {
        public ConcurrentQueue<BillingEvent> Events { get; } = new();

        public ValueTask NotifyAsync(BillingEvent billingEvent, CancellationToken cancellationToken)
        {
            Events.Enqueue(billingEvent);
            return ValueTask.CompletedTask;
        }

        public async Task<IReadOnlyList<BillingEvent>> WaitForAsync(int count)
        {
            var deadline = DateTime.UtcNow.AddSeconds(10);
            while (Events.Count < count && DateTime.UtcNow < deadline)
            {
                await Task.Delay(20);
            }

            return Events.ToList();
        }
    }

    /// <summary>The in-memory counter store, counting the increments of alert counters.</summary>
    private sealed class AlertCountingStore : ICounterStore
    {
        private ICounterStore _inner = null!;
        private int _alertIncrements;

        public int AlertIncrements => Volatile.Read(ref _alertIncrements);

        public AlertCountingStore Wrapping(ICounterStore inner)
        {
            _inner = inner;
            return this;
        }

        public ValueTask<long[]> IncrementAsync(IReadOnlyList<CounterIncrement> increments, CancellationToken cancellationToken = default)
        {
            Interlocked.Add(ref _alertIncrements, increments.Count(i => i.Key.StartsWith("alert:", StringComparison.Ordinal)));
            return _inner.IncrementAsync(increments, cancellationToken);
        }

        public ValueTask<long[]> GetAsync(IReadOnlyList<string> keys, CancellationToken cancellationToken = default) => _inner.GetAsync(keys, cancellationToken);
    }

    private sealed class ThrowingNotifier : IBillingNotifier
    {
        public ValueTask NotifyAsync(BillingEvent billingEvent, CancellationToken cancellationToken) => throw new HttpRequestException("receiver down");
    }
}
