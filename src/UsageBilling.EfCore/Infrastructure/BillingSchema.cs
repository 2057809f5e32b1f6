using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Storage;

namespace UsageBilling.EntityFrameworkCore;

/// <summary>The provider and the table and column names of one context type, read once from its model.</summary>
internal sealed class BillingSchema
{
    private const string SqliteProvider = "Microsoft.EntityFrameworkCore.Sqlite";
    private const string PostgreSqlProvider = "Npgsql.EntityFrameworkCore.PostgreSQL";

    private BillingSchema(DbContext context, BillingProvider provider)
    {
        Provider = provider;
        var sql = context.GetService<ISqlGenerationHelper>();
        Accounts = BillingTable.Of<AccountEntity>(context, sql);
        ApiKeys = BillingTable.Of<ApiKeyEntity>(context, sql);
        Balances = BillingTable.Of<CreditBalanceEntity>(context, sql);
        Reservations = BillingTable.Of<CreditReservationEntity>(context, sql);
        Ledger = BillingTable.Of<LedgerEntryEntity>(context, sql);
        Usage = BillingTable.Of<UsageRecordEntity>(context, sql);
        Counters = BillingTable.Of<RateLimitCounterEntity>(context, sql);
        ModelPrices = BillingTable.Of<ModelPriceEntity>(context, sql);
        ProviderKeys = BillingTable.Of<ProviderKeyEntity>(context, sql);
    }

    public BillingProvider Provider { get; }

    public BillingTable Accounts { get; }

    public BillingTable ApiKeys { get; }

    public BillingTable Balances { get; }

    public BillingTable Reservations { get; }

    public BillingTable Ledger { get; }

    public BillingTable Usage { get; }

    public BillingTable Counters { get; }

    public BillingTable ModelPrices { get; }

    public BillingTable ProviderKeys { get; }

    public static BillingSchema Read(DbContext context)
    {
        var provider = context.Database.ProviderName switch
        {
            SqliteProvider => BillingProvider.Sqlite,
            PostgreSqlProvider => BillingProvider.PostgreSql,
            var other => throw new NotSupportedException(
                $"The UsageBilling Entity Framework Core stores support SQLite ({SqliteProvider}) and PostgreSQL ({PostgreSqlProvider}); the context '{context.GetType().Name}' uses '{other}'."),
        };
        return new BillingSchema(context, provider);
    }
}
