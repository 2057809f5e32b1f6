using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using UsageBilling;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers UsageBilling.</summary>
public static class UsageBillingServiceCollectionExtensions
{
    /// <summary>
    /// Adds UsageBilling: the <c>ApiKey</c> authentication scheme, the metering middleware's services, the usage-log
    /// writer and reservation sweeper, and in-memory stores unless a backend (for example
    /// <c>UseEntityFrameworkCore()</c>) replaces them. Options are validated at start-up. Safe to call more than once.
    /// </summary>
    public static UsageBillingBuilder AddUsageBilling(this IServiceCollection services, Action<UsageBillingOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        services.AddOptions<UsageBillingOptions>().ValidateOnStart();
        if (configure is not null)
        {
            services.Configure(configure);
        }

        if (services.Any(d => d.ServiceType == typeof(UsageBillingMarker)))
        {
            return new UsageBillingBuilder(services);
        }

        services.AddSingleton<UsageBillingMarker>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<UsageBillingOptions>, UsageBillingOptionsValidator>());
        services.TryAddSingleton(TimeProvider.System);
        services.AddMetrics();
        services.AddProblemDetails();

        services.TryAddSingleton<InMemoryAccountStore>();
        services.TryAddSingleton<IAccountStore>(static sp => ObservedStores.Wrap<IAccountStore>(sp.GetRequiredService<InMemoryAccountStore>(), sp));
        services.TryAddSingleton<InMemoryApiKeyStore>();
        services.TryAddSingleton<IApiKeyStore>(static sp => ObservedStores.Wrap<IApiKeyStore>(sp.GetRequiredService<InMemoryApiKeyStore>(), sp));
        services.TryAddSingleton<InMemoryCreditStore>();
        services.TryAddSingleton<ICreditStore>(static sp => sp.GetRequiredService<InMemoryCreditStore>());
        services.TryAddSingleton<InMemoryUsageStore>();
        services.TryAddSingleton<IUsageStore>(static sp => ObservedStores.Wrap<IUsageStore>(sp.GetRequiredService<InMemoryUsageStore>(), sp));
        services.TryAddSingleton<InMemoryRateLimitCounterStore>();
        services.TryAddSingleton<ICounterStore>(static sp => ObservedStores.Wrap<ICounterStore>(sp.GetRequiredService<InMemoryRateLimitCounterStore>(), sp));
        services.TryAddSingleton<InMemoryModelPriceStore>();
        services.TryAddSingleton<IModelPriceStore>(static sp => ObservedStores.Wrap<IModelPriceStore>(sp.GetRequiredService<InMemoryModelPriceStore>(), sp));
        services.TryAddSingleton<InMemoryProviderKeyStore>();
        services.TryAddSingleton<IProviderKeyStore>(static sp => ObservedStores.Wrap<IProviderKeyStore>(sp.GetRequiredService<InMemoryProviderKeyStore>(), sp));
        services.TryAddSingleton<LiteLlmCatalogDownload>();
        services.TryAddSingleton<IPricingCatalog, OptionsPricingCatalog>();

        services.TryAddSingleton<UsageBillingMetrics>();
        services.TryAddSingleton<ApiKeyLookupCache>();
        services.TryAddSingleton(static sp => new ApiKeyManager(
            sp.GetRequiredService<IApiKeyStore>(), sp.GetRequiredService<IAccountStore>(), sp.GetRequiredService<TimeProvider>(),
            sp.GetRequiredService<ApiKeyLookupCache>(), sp.GetRequiredService<IOptions<UsageBillingOptions>>()));
        services.TryAddSingleton(static sp => new CreditManager(
            sp.GetRequiredService<ICreditStore>(), sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<IOptions<UsageBillingOptions>>(),
            sp.GetRequiredService<UsageBillingMetrics>()));
        services.TryAddSingleton(static sp => new AccountManager(
            sp.GetRequiredService<IAccountStore>(), sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<IOptions<UsageBillingOptions>>()));
        services.AddDataProtection();
        services.TryAddSingleton<ProviderKeyLookupCache>();
        services.TryAddSingleton(static sp => new ProviderKeyManager(
            sp.GetRequiredService<IProviderKeyStore>(), sp.GetRequiredService<Microsoft.AspNetCore.DataProtection.IDataProtectionProvider>(), sp.GetRequiredService<TimeProvider>(),
            sp.GetRequiredService<ProviderKeyLookupCache>()));
        services.TryAddSingleton<TokenCounter>();
        services.TryAddSingleton<IIngestAccountResolver, EndUserAccountResolver>();
        services.TryAddSingleton<BillingAlerts>();
        services.TryAddSingleton<BillingEventDispatcher>();
        services.TryAddSingleton<LlmMeter>();
        services.TryAddSingleton<UsageLogQueue>();
        services.TryAddSingleton<UsageDeadLetters>();
        services.TryAddSingleton<ReservationSweeper>();
        services.AddDistributedMemoryCache();
        services.TryAddSingleton<IdempotentResponseStore>();
        services.TryAddSingleton<PendingCompletions>();
        services.TryAddSingleton<ICallCompletionStore, StoreCallCompletions>();
        services.TryAddSingleton<ICallAdmissionStore, SeparateStoreAdmissions>();
        services.TryAddSingleton<CallCompletions>();
        services.TryAddSingleton<CallAdmissions>();
        services.TryAddSingleton<CallCounters>();
        services.TryAddSingleton<CallPricer>();
        services.TryAddSingleton<MeteredCalls>();

        // Before the start-up check, so that a catalogue fetched from a URL is in use when the app starts serving.
        services.AddHttpClient(LiteLlmCatalogFetcher.HttpClientName, static client => client.Timeout = TimeSpan.FromSeconds(60));
        services.AddHostedService<LiteLlmCatalogFetcher>();
        services.AddHostedService<UsageBillingStartup>();
        // Describes UsageBilling in the app's OpenAPI documents, if it has any (AddOpenApi()).
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IConfigureOptions<Microsoft.AspNetCore.OpenApi.OpenApiOptions>, UsageBillingOpenApiConfiguration>());
        services.AddHostedService<UsageLogWriter>();
        services.AddHostedService(static sp => sp.GetRequiredService<ReservationSweeper>());
        services.AddHostedService(static sp => sp.GetRequiredService<PendingCompletions>());
        services.AddHostedService(static sp => sp.GetRequiredService<BillingEventDispatcher>());

        services.AddAuthentication()
            .AddScheme<AuthenticationSchemeOptions, ApiKeyAuthenticationHandler>(ApiKeyDefaults.AuthenticationScheme, displayName: "API key", configureOptions: null);
        services.AddAuthorization();
        return new UsageBillingBuilder(services);
    }

    /// <summary>Adds UsageBilling with options bound from <paramref name="configuration"/> (for example the <c>UsageBilling</c> section), then <paramref name="configure"/>.</summary>
    public static UsageBillingBuilder AddUsageBilling(this IServiceCollection services, IConfiguration configuration, Action<UsageBillingOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        services.AddOptions<UsageBillingOptions>().Bind(configuration, static binder => binder.ErrorOnUnknownConfiguration = true);
        return services.AddUsageBilling(configure);
    }
}
