using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace UsageBilling.Tests.Unit;

/// <summary>The core services on the in-memory stores with a fake clock, and helpers to make callers and calls.</summary>
internal sealed class MeteredCallHarness : IAsyncDisposable
{
    private readonly ServiceProvider _services;

    public MeteredCallHarness(DateTimeOffset now, Action<UsageBillingOptions>? configure = null, bool metrics = false)
    {
        Time = new FakeTimeProvider(now);
        var services = new ServiceCollection().AddLogging();
        if (metrics)
        {
            services.AddMetrics();
        }

        services.AddSingleton<TimeProvider>(Time);
        services.AddUsageBilling(configure);
        _services = services.BuildServiceProvider();
    }

    public FakeTimeProvider Time { get; }

    public IServiceProvider Services => _services;

    public MeteredCalls Calls => _services.GetRequiredService<MeteredCalls>();

    public CreditManager Credits => _services.GetRequiredService<CreditManager>();

    public ICreditStore CreditStore => _services.GetRequiredService<ICreditStore>();

    public ICounterStore Counters => _services.GetRequiredService<ICounterStore>();

    public async Task<IApiKeyFeature> CallerAsync(SpendBudget? accountBudget = null, SpendBudget? keyBudget = null, decimal credit = 100m)
    {
        var accounts = _services.GetRequiredService<AccountManager>();
        var account = await accounts.CreateAsync("Test");
        if (accountBudget is not null)
        {
            account = (await accounts.SetBudgetAsync(account.Id, accountBudget))!;
        }

        if (credit > 0)
        {
            await Credits.PostAsync(account.Id, LedgerEntryKind.Grant, Money.FromUnits(credit));
        }

        var keys = _services.GetRequiredService<ApiKeyManager>();
        var key = (await keys.CreateAsync(account.Id, "k")).Key;
        if (keyBudget is not null)
        {
            key = (await keys.UpdateAsync(key.Id, key.Limits, keyBudget))!;
        }

        return new ApiKeyFeature(key, account);
    }

    public CallRequest Call(IApiKeyFeature caller, decimal price, RequestLimits? limits = null, string? requestId = null, IdempotencyRequest? idempotency = null,
        LlmEstimate? llm = null)
        => new(caller, new CallQuote(Money.FromUnits(price), llm), limits ?? new RequestLimits(), requestId ?? "req_" + Guid.NewGuid().ToString("N"),
            "POST /x", idempotency, Time.GetUtcNow());

    public ValueTask<Admission> AdmitAsync(CallRequest request) => Calls.AdmitAsync(request, CancellationToken.None);

    public static UsageRecord Record(CallRequest request) => new()
    {
        RequestId = request.RequestId, Timestamp = request.Now, Method = "POST", Route = "/x", StatusCode = 200, DurationMs = 1, Cost = Money.Zero,
    };

    /// <summary>An LLM estimate of <paramref name="tokens"/> tokens (all input), for the token-per-minute window.</summary>
    public static LlmEstimate Tokens(long tokens) => new(
        new LlmRequest(LlmApiFormat.OpenAIChatCompletions, "m", false, 0, [], 1),
        new ModelPrice { Model = "m", InputPerMillion = Money.Zero, OutputPerMillion = Money.Zero, CachedInputPerMillion = Money.Zero },
        0m, tokens, 0);

    public ValueTask DisposeAsync() => _services.DisposeAsync();
}
