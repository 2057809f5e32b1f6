using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace UsageBilling.EntityFrameworkCore.Tests;

/// <summary>
/// One database for one test class, reached through the real registration:
/// <c>AddUsageBilling().UseEntityFrameworkCore(...)</c>, stores resolved from the container.
/// </summary>
public abstract class BillingTestDatabase : IAsyncLifetime
{
    private ServiceProvider? _services;

    /// <summary>Why the database is unavailable (the tests are skipped), or null.</summary>
    public virtual string? SkipReason => null;

    /// <summary>Whether to create the ready context's tables (false: an empty database).</summary>
    public bool CreateTables { get; init; } = true;

    public IServiceProvider Services => _services ?? throw new InvalidOperationException("The database was not created.");

    public T Get<T>() where T : notnull
    {
        Skip.If(SkipReason is not null, SkipReason);
        return Services.GetRequiredService<T>();
    }

    /// <summary>
    /// A credit store of its own on this database, as the registration makes it. Each test takes one, so that each test
    /// builds the store's statements: Stryker credits a mutant in <see cref="CreditStatements"/>' constructor only to
    /// the tests that ran it, and with one store per class that was the class's first test alone.
    /// </summary>
    public ICreditStore NewCreditStore() => new EfCoreCreditStore<UsageBillingDbContext>(Get<BillingDatabase<UsageBillingDbContext>>());

    /// <summary>A completion store of its own on this database (its group statements built in the test, as <see cref="NewCreditStore"/>).</summary>
    public ICallCompletionStore NewCompletionStore() => new EfCoreCallCompletionStore<UsageBillingDbContext>(Get<BillingDatabase<UsageBillingDbContext>>(),
        ActivatorUtilities.CreateInstance<EfCoreRateLimitCounterStore<UsageBillingDbContext>>(Services));

    /// <summary>An admission store of its own on this database, with a counter store of its own (statements built in the test, as <see cref="NewCreditStore"/>).</summary>
    public ICallAdmissionStore NewAdmissionStore() => new EfCoreCallAdmissionStore<UsageBillingDbContext>(Get<BillingDatabase<UsageBillingDbContext>>(),
        ActivatorUtilities.CreateInstance<EfCoreRateLimitCounterStore<UsageBillingDbContext>>(Services));

    public async Task InitializeAsync()
    {
        if (SkipReason is not null)
        {
            return;
        }

        await CreateDatabaseAsync();
        if (!CreateTables)
        {
            return;
        }

        var services = new ServiceCollection().AddLogging();
        services.AddUsageBilling().UseEntityFrameworkCore(Configure);
        _services = services.BuildServiceProvider(new ServiceProviderOptions { ValidateScopes = true });
        await using var context = await _services.GetRequiredService<IDbContextFactory<UsageBillingDbContext>>().CreateDbContextAsync();
        await context.Database.EnsureCreatedAsync();
    }

    public async Task DisposeAsync()
    {
        if (_services is not null)
        {
            await _services.DisposeAsync();
        }

        if (SkipReason is null)
        {
            await DropDatabaseAsync();
        }
    }

    /// <summary>Points a context at this database.</summary>
    public abstract void Configure(DbContextOptionsBuilder options);

    protected abstract Task CreateDatabaseAsync();

    protected abstract Task DropDatabaseAsync();
}
