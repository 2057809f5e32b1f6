using UsageBilling.Testing;

namespace UsageBilling.EntityFrameworkCore.Tests;

// Every store behaviour of the conformance suite, on a fresh PostgreSQL database per class. The classes share one
// collection so that they run one after another and their connection pools never exceed the server's limit together.

[CollectionDefinition(Name)]
public sealed class PostgresTestGroup
{
    public const string Name = "PostgreSQL";
}

[Collection(PostgresTestGroup.Name)]
public sealed class PostgresCreditStoreTests(PostgresTestDatabase database) : CreditStoreSpecification, IClassFixture<PostgresTestDatabase>
{
    protected override ValueTask<ICreditStore> CreateStoreAsync() => ValueTask.FromResult(database.NewCreditStore());
}

[Collection(PostgresTestGroup.Name)]
public sealed class PostgresApiKeyStoreTests(PostgresTestDatabase database) : ApiKeyStoreSpecification, IClassFixture<PostgresTestDatabase>
{
    protected override ValueTask<IApiKeyStore> CreateStoreAsync() => ValueTask.FromResult(database.Get<IApiKeyStore>());
}

[Collection(PostgresTestGroup.Name)]
public sealed class PostgresAccountStoreTests(PostgresTestDatabase database) : AccountStoreSpecification, IClassFixture<PostgresTestDatabase>
{
    protected override ValueTask<IAccountStore> CreateStoreAsync() => ValueTask.FromResult(database.Get<IAccountStore>());
}

[Collection(PostgresTestGroup.Name)]
public sealed class PostgresUsageStoreTests(PostgresTestDatabase database) : UsageStoreSpecification, IClassFixture<PostgresTestDatabase>
{
    protected override ValueTask<IUsageStore> CreateStoreAsync() => ValueTask.FromResult(database.Get<IUsageStore>());
}

[Collection(PostgresTestGroup.Name)]
public sealed class PostgresCounterStoreTests(PostgresTestDatabase database) : CounterStoreSpecification, IClassFixture<PostgresTestDatabase>
{
    protected override ValueTask<ICounterStore> CreateStoreAsync() => ValueTask.FromResult(database.Get<ICounterStore>());
}

[Collection(PostgresTestGroup.Name)]
public sealed class PostgresModelPriceStoreTests(PostgresTestDatabase database) : ModelPriceStoreSpecification, IClassFixture<PostgresTestDatabase>
{
    protected override ValueTask<IModelPriceStore> CreateStoreAsync() => ValueTask.FromResult(database.Get<IModelPriceStore>());
}

[Collection(PostgresTestGroup.Name)]
public sealed class PostgresProviderKeyStoreTests(PostgresTestDatabase database) : ProviderKeyStoreSpecification, IClassFixture<PostgresTestDatabase>
{
    protected override ValueTask<IProviderKeyStore> CreateStoreAsync() => ValueTask.FromResult(database.Get<IProviderKeyStore>());
}

[Collection(PostgresTestGroup.Name)]
public sealed class PostgresCallCompletionStoreTests(PostgresTestDatabase database) : CallCompletionStoreSpecification, IClassFixture<PostgresTestDatabase>
{
    protected override ValueTask<(ICallCompletionStore Completions, ICreditStore Credits, IUsageStore Usage, ICounterStore Counters)> CreateStoresAsync()
        => ValueTask.FromResult((database.NewCompletionStore(), database.NewCreditStore(), database.Get<IUsageStore>(), database.Get<ICounterStore>()));
}

[Collection(PostgresTestGroup.Name)]
public sealed class PostgresCallAdmissionStoreTests(PostgresTestDatabase database) : CallAdmissionStoreSpecification, IClassFixture<PostgresTestDatabase>
{
    protected override ValueTask<(ICallAdmissionStore Admissions, ICreditStore Credits, ICounterStore Counters)> CreateStoresAsync()
        => ValueTask.FromResult((database.NewAdmissionStore(), database.NewCreditStore(), database.Get<ICounterStore>()));
}
