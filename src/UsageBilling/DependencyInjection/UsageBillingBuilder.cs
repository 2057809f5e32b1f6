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

    /// <summary>
    /// Replaces how completed calls are written (see <see cref="ICallCompletionStore"/>): by default through the
    /// credit and usage stores; a backend holding both in one database writes a batch in one transaction.
    /// </summary>
    public UsageBillingBuilder AddCallCompletionStore<TStore>() where TStore : class, ICallCompletionStore
        => ReplaceStore<ICallCompletionStore, TStore>();

    /// <summary>
    /// Replaces how a call is admitted (see <see cref="ICallAdmissionStore"/>): by default counted and held through the
    /// counter and credit stores one after the other; a backend holding both in one database does both in one transaction.
    /// </summary>
    public UsageBillingBuilder AddCallAdmissionStore<TStore>() where TStore : class, ICallAdmissionStore
        => ReplaceStore<ICallAdmissionStore, TStore>();

    /// <summary>Replaces the rate-limit counter store.</summary>
    public UsageBillingBuilder AddCounterStore<TStore>() where TStore : class, ICounterStore
        => ReplaceStore<ICounterStore, TStore>();

    /// <summary>Replaces the store of prices set at run time.</summary>
    public UsageBillingBuilder AddModelPriceStore<TStore>() where TStore : class, IModelPriceStore
        => ReplaceStore<IModelPriceStore, TStore>();

    /// <summary>Replaces the store of accounts' own provider keys.</summary>
    public UsageBillingBuilder AddProviderKeyStore<TStore>() where TStore : class, IProviderKeyStore
        => ReplaceStore<IProviderKeyStore, TStore>();

    /// <summary>Replaces the pricing catalog.</summary>
    public UsageBillingBuilder AddPricingCatalog<TCatalog>() where TCatalog : class, IPricingCatalog
        => ReplaceStore<IPricingCatalog, TCatalog>();

    /// <summary>Adds a notifier that receives billing events (budget thresholds, low balance).</summary>
    public UsageBillingBuilder AddNotifier<TNotifier>() where TNotifier : class, IBillingNotifier
    {
        Services.TryAddEnumerable(ServiceDescriptor.Singleton<IBillingNotifier, TNotifier>());
        return this;
    }

    /// <summary>Posts billing events to a webhook, HMAC-signed, with retries and a timeout (see <see cref="WebhookNotifier"/>).</summary>
    public UsageBillingBuilder AddWebhookNotifier(Action<WebhookOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(configure);
        Services.AddOptions<WebhookOptions>().Configure(configure).Validate(
            o => o.Url is { IsAbsoluteUri: true } url && (url.Scheme == Uri.UriSchemeHttp || url.Scheme == Uri.UriSchemeHttps) && WebhookNotifier.IsValidSecret(o.Secret)
                && o.MaxAttempts >= 1 && o.Timeout > TimeSpan.Zero && o.RetryDelay >= TimeSpan.Zero,
            "WebhookOptions needs an absolute http(s) Url, a Secret ('whsec_' and base64 of 24 to 64 bytes, or at least 32 characters), MaxAttempts >= 1 and a positive Timeout.").ValidateOnStart();
        if (!Services.Any(d => d.ServiceType == typeof(WebhookDeliveryMarker)))
        {
            Services.AddSingleton<WebhookDeliveryMarker>();
            Services.AddHttpClient(WebhookNotifier.HttpClientName).AddWebhookResilience();
        }

        return AddNotifier<WebhookNotifier>();
    }

    /// <summary>
    /// Replaces <typeparamref name="TService"/> with the singleton <typeparamref name="TImplementation"/>; calling it twice is harmless.
    /// A store's calls are timed and traced (<c>usagebilling.store.*</c>) without the store doing anything.
    /// </summary>
    public UsageBillingBuilder ReplaceStore<TService, TImplementation>()
        where TService : class
        where TImplementation : class, TService
    {
        Services.TryAddSingleton<TImplementation>();
        Services.Replace(ServiceDescriptor.Singleton<TService>(static sp => ObservedStores.Wrap<TService>(sp.GetRequiredService<TImplementation>(), sp)));
        return this;
    }
}
