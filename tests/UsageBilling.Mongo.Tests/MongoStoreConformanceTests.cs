using UsageBilling.Testing;

namespace UsageBilling.Mongo.Tests;

// The store conformance suite against a real MongoDB server (USAGEBILLING_MONGO_URI); each class gets its own
// database, dropped afterwards. Skipped, with the reason, when the variable is not set.

public sealed class MongoCreditStoreTests(MongoTestDatabase mongo) : CreditStoreSpecification, IClassFixture<MongoTestDatabase>
{
    protected override ValueTask<ICreditStore> CreateStoreAsync()
        => ValueTask.FromResult<ICreditStore>(new MongoCreditStore(mongo.Require(), TimeProvider.System));
}

public sealed class MongoApiKeyStoreTests(MongoTestDatabase mongo) : ApiKeyStoreSpecification, IClassFixture<MongoTestDatabase>
{
    protected override ValueTask<IApiKeyStore> CreateStoreAsync() => ValueTask.FromResult<IApiKeyStore>(new MongoApiKeyStore(mongo.Require()));
}

public sealed class MongoAccountStoreTests(MongoTestDatabase mongo) : AccountStoreSpecification, IClassFixture<MongoTestDatabase>
{
    protected override ValueTask<IAccountStore> CreateStoreAsync() => ValueTask.FromResult<IAccountStore>(new MongoAccountStore(mongo.Require()));
}

public sealed class MongoUsageStoreTests(MongoTestDatabase mongo) : UsageStoreSpecification, IClassFixture<MongoTestDatabase>
{
    protected override ValueTask<IUsageStore> CreateStoreAsync() => ValueTask.FromResult<IUsageStore>(new MongoUsageStore(mongo.Require()));
}

public sealed class MongoModelPriceStoreTests(MongoTestDatabase mongo) : ModelPriceStoreSpecification, IClassFixture<MongoTestDatabase>
{
    protected override ValueTask<IModelPriceStore> CreateStoreAsync() => ValueTask.FromResult<IModelPriceStore>(new MongoModelPriceStore(mongo.Require()));
}

public sealed class MongoProviderKeyStoreTests(MongoTestDatabase mongo) : ProviderKeyStoreSpecification, IClassFixture<MongoTestDatabase>
{
    protected override ValueTask<IProviderKeyStore> CreateStoreAsync() => ValueTask.FromResult<IProviderKeyStore>(new MongoProviderKeyStore(mongo.Require()));
}

public sealed class MongoCounterStoreTests(MongoTestDatabase mongo) : CounterStoreSpecification, IClassFixture<MongoTestDatabase>
{
    protected override ValueTask<ICounterStore> CreateStoreAsync()
        => ValueTask.FromResult<ICounterStore>(new MongoRateLimitCounterStore(mongo.Require()));
}
