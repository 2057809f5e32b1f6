using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using UsageBilling;
using UsageBilling.EntityFrameworkCore;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Chooses Entity Framework Core as the UsageBilling backend.</summary>
public static class UsageBillingEntityFrameworkCoreExtensions
{
    /// <summary>
    /// Stores accounts, keys, credits, usage, rate-limit counters, model prices and provider keys with the ready <see cref="UsageBillingDbContext"/>,
    /// for example <c>.UseEntityFrameworkCore(ef => ef.UseSqlite("Data Source=billing.db"), o => o.CreateDatabaseOnStartup = true)</c>
    /// or <c>ef => ef.UseNpgsql(connectionString)</c>. Safe to call more than once.
    /// </summary>
    /// <param name="builder">The builder returned by <c>AddUsageBilling()</c>.</param>
    /// <param name="configureContext">Chooses the database provider and connection of the context.</param>
    /// <param name="configure">Sets the stores' options.</param>
    /// <returns>The builder, for chaining.</returns>
    public static UsageBillingBuilder UseEntityFrameworkCore(this UsageBillingBuilder builder, Action<DbContextOptionsBuilder> configureContext,
        Action<UsageBillingEntityFrameworkCoreOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(configureContext);
        // Pooled: the stores take a context per operation, and a pooled one skips building the context's services each time.
        builder.Services.AddPooledDbContextFactory<UsageBillingDbContext>(configureContext);
        return builder.UseEntityFrameworkCore<UsageBillingDbContext>(configure);
    }

    /// <summary>
    /// Stores accounts, keys, credits, usage, rate-limit counters, model prices and provider keys in your own <typeparamref name="TContext"/>, whose
    /// <c>OnModelCreating</c> calls <c>modelBuilder.UseUsageBilling()</c>. Register the context first with
    /// <c>services.AddDbContextFactory&lt;TContext&gt;()</c> (preferred: the stores are singletons and use a short-lived
    /// context per operation) or <c>services.AddDbContext&lt;TContext&gt;()</c>. Safe to call more than once.
    /// </summary>
    /// <typeparam name="TContext">Your context.</typeparam>
    /// <param name="builder">The builder returned by <c>AddUsageBilling()</c>.</param>
    /// <param name="configure">Sets the stores' options.</param>
    /// <returns>The builder, for chaining.</returns>
    public static UsageBillingBuilder UseEntityFrameworkCore<TContext>(this UsageBillingBuilder builder, Action<UsageBillingEntityFrameworkCoreOptions>? configure = null)
        where TContext : DbContext
    {
        ArgumentNullException.ThrowIfNull(builder);
        var services = builder.Services;
        var options = services.AddOptions<UsageBillingEntityFrameworkCoreOptions>().ValidateOnStart();
        if (configure is not null)
        {
            options.Configure(configure);
        }

        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<UsageBillingEntityFrameworkCoreOptions>, EntityFrameworkCoreOptionsValidator>());
        services.TryAddSingleton<BillingDatabase<TContext>>();
        builder
            .ReplaceStore<IAccountStore, EfCoreAccountStore<TContext>>()
            .ReplaceStore<IApiKeyStore, EfCoreApiKeyStore<TContext>>()
            .ReplaceStore<ICreditStore, EfCoreCreditStore<TContext>>()
            .ReplaceStore<IUsageStore, EfCoreUsageStore<TContext>>()
            .ReplaceStore<ICallCompletionStore, EfCoreCallCompletionStore<TContext>>()
            .ReplaceStore<ICallAdmissionStore, EfCoreCallAdmissionStore<TContext>>()
            .ReplaceStore<ICounterStore, EfCoreRateLimitCounterStore<TContext>>()
            .ReplaceStore<IModelPriceStore, EfCoreModelPriceStore<TContext>>()
            .ReplaceStore<IProviderKeyStore, EfCoreProviderKeyStore<TContext>>();

        // The initializer starts before every other hosted service, so the tables exist before anything uses them.
        var initializer = ServiceDescriptor.Singleton<IHostedService, UsageBillingDatabaseInitializer<TContext>>();
        if (!services.Any(d => IsHostedService(d) && d.ImplementationType == initializer.ImplementationType))
        {
            var first = services.Select((d, i) => (d, i)).FirstOrDefault(x => IsHostedService(x.d));
            services.Insert(first.d is null ? services.Count : first.i, initializer);
        }

        return builder;
    }

    // Keyed descriptors are not started by the host (and throw when asked for ImplementationType).
    private static bool IsHostedService(ServiceDescriptor descriptor) => descriptor.ServiceType == typeof(IHostedService) && !descriptor.IsKeyedService;

    private sealed class EntityFrameworkCoreOptionsValidator : IValidateOptions<UsageBillingEntityFrameworkCoreOptions>
    {
        public ValidateOptionsResult Validate(string? name, UsageBillingEntityFrameworkCoreOptions options)
            => options.ExpiredCounterCleanupInterval > TimeSpan.Zero
                ? ValidateOptionsResult.Success
                : ValidateOptionsResult.Fail("UsageBilling Entity Framework Core: ExpiredCounterCleanupInterval must be positive.");
    }
}
