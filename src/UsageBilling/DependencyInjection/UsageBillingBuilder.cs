using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace UsageBilling;

/// <summary>Returned by <c>AddUsageBilling()</c>: chooses the backend and customizes the services.</summary>
public sealed class UsageBillingBuilder
{
    internal UsageBillingBuilder(IServiceCollection services) => Services = services;

    /// <summary>The application's services.</summary>
    public IServiceCollection Services { get; }

    /// <summary>Replaces the API key store.</summary>
    public UsageBillingBuilder AddApiKeyStore<TStore>() where TStore : class, IApiKeyStore
        => ReplaceStore<IApiKeyStore, TStore>();

    /// <summary>Replaces the account store.</summary>
    public UsageBillingBuilder AddAccountStore<TStore>() where TStore : class, IAccountStore
        => ReplaceStore<IAccountStore, TStore>();

    /// <summary>Replaces the credit store.</summary>
    public UsageBillingBuilder AddCreditStore<TStore>() where TStore : class, ICreditStore
        => ReplaceStore<ICreditStore, TStore>();

    /// <summary>Replaces the usage store.</summary>
    public UsageBillingBuilder AddUsageStore<TStore>() where TStore : class, IUsageStore
        => ReplaceStore<IUsageStore, TStore>();

    /// <summary>Replaces the rate-limit counter store.</summary>
    public UsageBillingBuilder AddRateLimitCounterStore<TStore>() where TStore : class, IRateLimitCounterStore
        => ReplaceStore<IRateLimitCounterStore, TStore>();

    /// <summary>Replaces the store of prices set at run time.</summary>
    public UsageBillingBuilder AddModelPriceStore<TStore>() where TStore : class, IModelPriceStore
        => ReplaceStore<IModelPriceStore, TStore>();

    /// <summary>Replaces the pricing catalog.</summary>
    public UsageBillingBuilder AddPricingCatalog<TCatalog>() where TCatalog : class, IPricingCatalog
        => ReplaceStore<IPricingCatalog, TCatalog>();

    /// <summary>Replaces <typeparamref name="TService"/> with the singleton <typeparamref name="TImplementation"/>; calling it twice is harmless.</summary>
    public UsageBillingBuilder ReplaceStore<TService, TImplementation>()
        where TService : class
        where TImplementation : class, TService
    {
        Services.TryAddSingleton<TImplementation>();
        Services.Replace(ServiceDescriptor.Singleton<TService>(static sp => sp.GetRequiredService<TImplementation>()));
        return this;
    }
}
