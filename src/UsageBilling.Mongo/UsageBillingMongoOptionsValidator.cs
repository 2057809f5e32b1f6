using Microsoft.Extensions.Options;

namespace UsageBilling.Mongo;

/// <summary>Refuses start-up when the MongoDB options name no database or clash.</summary>
internal sealed class UsageBillingMongoOptionsValidator : IValidateOptions<UsageBillingMongoOptions>
{
    public ValidateOptionsResult Validate(string? name, UsageBillingMongoOptions options)
    {
        var failures = new List<string>();
        if (options.Database is null && options.DatabaseFactory is null && string.IsNullOrWhiteSpace(options.ConnectionString))
        {
            failures.Add("UseMongo() needs a database: set ConnectionString (with DatabaseName), Database or DatabaseFactory.");
        }

        var names = new[]
        {
            options.AccountsCollectionName, options.ApiKeysCollectionName, options.BalancesCollectionName,
            options.ReservationsCollectionName, options.LedgerCollectionName, options.UsageCollectionName,
            options.CountersCollectionName, options.ModelPricesCollectionName, options.ProviderKeysCollectionName,
        };
        if (names.Any(string.IsNullOrWhiteSpace))
        {
            failures.Add("Every UsageBilling MongoDB collection name must be set.");
        }
        else if (names.Distinct(StringComparer.Ordinal).Count() != names.Length)
        {
            failures.Add("The UsageBilling MongoDB collection names must all differ.");
        }

        if (options.AbandonedClaimTimeout < TimeSpan.FromSeconds(1))
        {
            failures.Add("UsageBillingMongoOptions.AbandonedClaimTimeout must be at least 1 second.");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
