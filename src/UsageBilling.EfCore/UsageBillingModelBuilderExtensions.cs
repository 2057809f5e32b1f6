using UsageBilling.EntityFrameworkCore;

namespace Microsoft.EntityFrameworkCore;

/// <summary>Adds the UsageBilling tables to a model.</summary>
public static class UsageBillingModelBuilderExtensions
{
    /// <summary>
    /// Adds the UsageBilling tables (accounts, API keys, balances, reservations, ledger, usage log, rate-limit counters, model prices, provider keys)
    /// to the model. Call it from your context's <c>OnModelCreating</c>, then register the stores with
    /// <c>AddUsageBilling().UseEntityFrameworkCore&lt;TContext&gt;()</c> and create the tables with your migrations.
    /// </summary>
    /// <param name="modelBuilder">The model builder of your context.</param>
    /// <param name="configure">Sets the table prefix and schema.</param>
    /// <returns>The model builder, for chaining.</returns>
    public static ModelBuilder UseUsageBilling(this ModelBuilder modelBuilder, Action<UsageBillingModelOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(modelBuilder);
        var options = new UsageBillingModelOptions();
        configure?.Invoke(options);
        ArgumentNullException.ThrowIfNull(options.TablePrefix, nameof(UsageBillingModelOptions.TablePrefix));

        return modelBuilder
            .ApplyConfiguration(new AccountEntityConfiguration(options))
            .ApplyConfiguration(new ApiKeyEntityConfiguration(options))
            .ApplyConfiguration(new CreditBalanceEntityConfiguration(options))
            .ApplyConfiguration(new CreditReservationEntityConfiguration(options))
            .ApplyConfiguration(new LedgerEntryEntityConfiguration(options))
            .ApplyConfiguration(new UsageRecordEntityConfiguration(options))
            .ApplyConfiguration(new RateLimitCounterEntityConfiguration(options))
            .ApplyConfiguration(new ModelPriceEntityConfiguration(options))
            .ApplyConfiguration(new ProviderKeyEntityConfiguration(options));
    }
}
