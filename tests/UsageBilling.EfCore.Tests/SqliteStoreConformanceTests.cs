using UsageBilling.Testing;

namespace UsageBilling.EntityFrameworkCore.Tests;

// Every store behaviour of the conformance suite, on a SQLite file per class.

public sealed class SqliteCreditStoreTests(SqliteTestDatabase database) : CreditStoreSpecification, IClassFixture<SqliteTestDatabase>
{
    protected override ValueTask<ICreditStore> CreateStoreAsync() => ValueTask.FromResult(database.NewCreditStore());
}

public sealed class SqliteApiKeyStoreTests(SqliteTestDatabase database) : ApiKeyStoreSpecification, IClassFixture<SqliteTestDatabase>
{
    protected override ValueTask<IApiKeyStore> CreateStoreAsync() => ValueTask.FromResult(database.Get<IApiKeyStore>());
}

public sealed class SqliteAccountStoreTests(SqliteTestDatabase database) : AccountStoreSpecification, IClassFixture<SqliteTestDatabase>
{
    protected override ValueTask<IAccountStore> CreateStoreAsync() => ValueTask.FromResult(database.Get<IAccountStore>());
}

public sealed class SqliteUsageStoreTests(SqliteTestDatabase database) : UsageStoreSpecification, IClassFixture<SqliteTestDatabase>
{
    protected override ValueTask<IUsageStore> CreateStoreAsync() => ValueTask.FromResult(database.Get<IUsageStore>());
}

public sealed class SqliteCounterStoreTests(SqliteTestDatabase database) : CounterStoreSpecification, IClassFixture<SqliteTestDatabase>
{
    protected override ValueTask<ICounterStore> CreateStoreAsync() => ValueTask.FromResult(database.Get<ICounterStore>());
}

public sealed class SqliteModelPriceStoreTests(SqliteTestDatabase database) : ModelPriceStoreSpecification, IClassFixture<SqliteTestDatabase>
{
    protected override ValueTask<IModelPriceStore> CreateStoreAsync() => ValueTask.FromResult(database.Get<IModelPriceStore>());
}

public sealed class SqliteProviderKeyStoreTests(SqliteTestDatabase database) : ProviderKeyStoreSpecification, IClassFixture<SqliteTestDatabase>
{
    protected override ValueTask<IProviderKeyStore> CreateStoreAsync() => ValueTask.FromResult(database.Get<IProviderKeyStore>());
}

public sealed class SqliteCallCompletionStoreTests(SqliteTestDatabase database) : CallCompletionStoreSpecification, IClassFixture<SqliteTestDatabase>
{
    protected override ValueTask<(ICallCompletionStore Completions, ICreditStore Credits, IUsageStore Usage, ICounterStore Counters)> CreateStoresAsync()
        => ValueTask.FromResult((database.NewCompletionStore(), database.NewCreditStore(), database.Get<IUsageStore>(), database.Get<ICounterStore>()));
}

public sealed class SqliteCallAdmissionStoreTests(SqliteTestDatabase database) : CallAdmissionStoreSpecification, IClassFixture<SqliteTestDatabase>
{
    protected override ValueTask<(ICallAdmissionStore Admissions, ICreditStore Credits, ICounterStore Counters)> CreateStoresAsync()
        => ValueTask.FromResult((database.NewAdmissionStore(), database.NewCreditStore(), database.Get<ICounterStore>()));
}
