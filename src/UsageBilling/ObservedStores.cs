using Microsoft.Extensions.DependencyInjection;

namespace UsageBilling;

/// <summary>A store wrapped so that each of its calls runs under a <see cref="StoreCallScope"/>.</summary>
internal interface IObservedStore
{
    /// <summary>The store that does the work.</summary>
    object Inner { get; }
}

/// <summary>
/// Times and spans every call of the stores that have no manager timing them: accounts, API keys, usage, model prices,
/// provider keys and rate-limit counters. The wrapper is put on where the store is registered (the in-memory defaults and
/// <see cref="UsageBillingBuilder.ReplaceStore{TService, TImplementation}"/>), so every caller goes through it and no
/// caller times these calls itself. Credit calls are timed by <see cref="CreditManager"/>, admissions by
/// <c>MeteredCalls</c> and completion batches by <c>CallCompletions</c>, their one caller each.
/// </summary>
internal static class ObservedStores
{
    /// <summary>Wraps <paramref name="store"/> when <typeparamref name="TService"/> is one of the observed store contracts.</summary>
    public static TService Wrap<TService>(TService store, IServiceProvider services) where TService : class
    {
        var metrics = services.GetService<UsageBillingMetrics>();
        object wrapped = typeof(TService) switch
        {
            var t when t == typeof(IAccountStore) => new ObservedAccountStore((IAccountStore)store, metrics),
            var t when t == typeof(IApiKeyStore) => new ObservedApiKeyStore((IApiKeyStore)store, metrics),
            var t when t == typeof(IUsageStore) => new ObservedUsageStore((IUsageStore)store, metrics),
            var t when t == typeof(IModelPriceStore) => new ObservedModelPriceStore((IModelPriceStore)store, metrics),
            var t when t == typeof(IProviderKeyStore) => new ObservedProviderKeyStore((IProviderKeyStore)store, metrics),
            var t when t == typeof(ICounterStore) => new ObservedRateLimitCounterStore((ICounterStore)store, metrics),
            _ => store,
        };
        return (TService)wrapped;
    }

    /// <summary>The store under any wrappers.</summary>
    public static object Unwrap(object store) => store is IObservedStore observed ? Unwrap(observed.Inner) : store;
}

internal sealed class ObservedAccountStore(IAccountStore inner, UsageBillingMetrics? metrics) : IAccountStore, IObservedStore
{
    public object Inner => inner;

    public ValueTask CreateAsync(BillingAccount account, CancellationToken cancellationToken = default)
        => StoreCalls.RunAsync(metrics, "accounts.create", (inner, account, cancellationToken), static s => s.inner.CreateAsync(s.account, s.cancellationToken));

    public ValueTask<BillingAccount?> FindAsync(string accountId, CancellationToken cancellationToken = default)
        => StoreCalls.RunAsync(metrics, "accounts.find", (inner, accountId, cancellationToken), static s => s.inner.FindAsync(s.accountId, s.cancellationToken));

    public ValueTask<bool> UpdateAsync(BillingAccount account, CancellationToken cancellationToken = default)
        => StoreCalls.RunAsync(metrics, "accounts.update", (inner, account, cancellationToken), static s => s.inner.UpdateAsync(s.account, s.cancellationToken));
}

internal sealed class ObservedApiKeyStore(IApiKeyStore inner, UsageBillingMetrics? metrics) : IApiKeyStore, IObservedStore
{
    public object Inner => inner;

    public ValueTask CreateAsync(ApiKeyRecord key, CancellationToken cancellationToken = default)
        => StoreCalls.RunAsync(metrics, "keys.create", (inner, key, cancellationToken), static s => s.inner.CreateAsync(s.key, s.cancellationToken));

    public ValueTask<ApiKeyRecord?> FindByHashAsync(string hash, CancellationToken cancellationToken = default)
        => StoreCalls.RunAsync(metrics, "keys.find_by_hash", (inner, hash, cancellationToken), static s => s.inner.FindByHashAsync(s.hash, s.cancellationToken));

    public ValueTask<ApiKeyRecord?> FindByIdAsync(string keyId, CancellationToken cancellationToken = default)
        => StoreCalls.RunAsync(metrics, "keys.find", (inner, keyId, cancellationToken), static s => s.inner.FindByIdAsync(s.keyId, s.cancellationToken));

    public ValueTask<IReadOnlyList<ApiKeyRecord>> ListAsync(string? afterId, int limit, CancellationToken cancellationToken = default)
        => StoreCalls.RunAsync(metrics, "keys.list", (inner, afterId, limit, cancellationToken), static s => s.inner.ListAsync(s.afterId, s.limit, s.cancellationToken));

    public ValueTask<bool> UpdateAsync(ApiKeyRecord key, CancellationToken cancellationToken = default)
        => StoreCalls.RunAsync(metrics, "keys.update", (inner, key, cancellationToken), static s => s.inner.UpdateAsync(s.key, s.cancellationToken));

    public ValueTask<IReadOnlyList<ApiKeyRecord>> ListByAccountAsync(string accountId, CancellationToken cancellationToken = default)
        => StoreCalls.RunAsync(metrics, "keys.list_by_account", (inner, accountId, cancellationToken), static s => s.inner.ListByAccountAsync(s.accountId, s.cancellationToken));

    public ValueTask<bool> RevokeAsync(string keyId, DateTimeOffset revokedAt, CancellationToken cancellationToken = default)
        => StoreCalls.RunAsync(metrics, "keys.revoke", (inner, keyId, revokedAt, cancellationToken), static s => s.inner.RevokeAsync(s.keyId, s.revokedAt, s.cancellationToken));

    public ValueTask TouchAsync(string keyId, DateTimeOffset usedAt, CancellationToken cancellationToken = default)
        => StoreCalls.RunAsync(metrics, "keys.touch", (inner, keyId, usedAt, cancellationToken), static s => s.inner.TouchAsync(s.keyId, s.usedAt, s.cancellationToken));
}

internal sealed class ObservedUsageStore(IUsageStore inner, UsageBillingMetrics? metrics) : IUsageStore, IObservedStore
{
    public object Inner => inner;

    public ValueTask AppendAsync(IReadOnlyList<UsageRecord> records, CancellationToken cancellationToken = default)
        => StoreCalls.RunAsync(metrics, "usage.append", (inner, records, cancellationToken), static s => s.inner.AppendAsync(s.records, s.cancellationToken));

    public ValueTask<UsagePage> QueryAsync(UsageQuery query, CancellationToken cancellationToken = default)
        => StoreCalls.RunAsync(metrics, "usage.query", (inner, query, cancellationToken), static s => s.inner.QueryAsync(s.query, s.cancellationToken));

    public ValueTask<IReadOnlyList<UsageSummary>> SummarizeAsync(UsageSummaryQuery query, CancellationToken cancellationToken = default)
        => StoreCalls.RunAsync(metrics, "usage.summarize", (inner, query, cancellationToken), static s => s.inner.SummarizeAsync(s.query, s.cancellationToken));
}

internal sealed class ObservedModelPriceStore(IModelPriceStore inner, UsageBillingMetrics? metrics) : IModelPriceStore, IObservedStore
{
    public object Inner => inner;

    public ValueTask<IReadOnlyList<ModelPrice>> ListAsync(CancellationToken cancellationToken = default)
        => StoreCalls.RunAsync(metrics, "prices.list", (inner, cancellationToken), static s => s.inner.ListAsync(s.cancellationToken));

    public ValueTask UpsertAsync(ModelPrice price, CancellationToken cancellationToken = default)
        => StoreCalls.RunAsync(metrics, "prices.upsert", (inner, price, cancellationToken), static s => s.inner.UpsertAsync(s.price, s.cancellationToken));
}

internal sealed class ObservedProviderKeyStore(IProviderKeyStore inner, UsageBillingMetrics? metrics) : IProviderKeyStore, IObservedStore
{
    public object Inner => inner;

    public ValueTask<ProviderKey> UpsertAsync(ProviderKey key, CancellationToken cancellationToken = default)
        => StoreCalls.RunAsync(metrics, "provider_keys.upsert", (inner, key, cancellationToken), static s => s.inner.UpsertAsync(s.key, s.cancellationToken));

    public ValueTask<ProviderKey?> FindAsync(string accountId, string provider, CancellationToken cancellationToken = default)
        => StoreCalls.RunAsync(metrics, "provider_keys.find", (inner, accountId, provider, cancellationToken), static s => s.inner.FindAsync(s.accountId, s.provider, s.cancellationToken));

    public ValueTask<IReadOnlyList<ProviderKey>> ListAsync(string accountId, CancellationToken cancellationToken = default)
        => StoreCalls.RunAsync(metrics, "provider_keys.list", (inner, accountId, cancellationToken), static s => s.inner.ListAsync(s.accountId, s.cancellationToken));

    public ValueTask<bool> SetEnabledAsync(string accountId, string provider, bool enabled, DateTimeOffset updatedAt, CancellationToken cancellationToken = default)
        => StoreCalls.RunAsync(metrics, "provider_keys.set_enabled", (inner, accountId, provider, enabled, updatedAt, cancellationToken),
            static s => s.inner.SetEnabledAsync(s.accountId, s.provider, s.enabled, s.updatedAt, s.cancellationToken));

    public ValueTask<bool> DeleteAsync(string accountId, string provider, CancellationToken cancellationToken = default)
        => StoreCalls.RunAsync(metrics, "provider_keys.delete", (inner, accountId, provider, cancellationToken), static s => s.inner.DeleteAsync(s.accountId, s.provider, s.cancellationToken));
}

internal sealed class ObservedRateLimitCounterStore(ICounterStore inner, UsageBillingMetrics? metrics) : ICounterStore, IObservedStore
{
    public object Inner => inner;

    public ValueTask<long[]> IncrementAsync(IReadOnlyList<CounterIncrement> increments, CancellationToken cancellationToken = default)
        => StoreCalls.RunAsync(metrics, "counters.increment", (inner, increments, cancellationToken), static s => s.inner.IncrementAsync(s.increments, s.cancellationToken));

    public ValueTask<long[]> GetAsync(IReadOnlyList<string> keys, CancellationToken cancellationToken = default)
        => StoreCalls.RunAsync(metrics, "counters.get", (inner, keys, cancellationToken), static s => s.inner.GetAsync(s.keys, s.cancellationToken));
}
