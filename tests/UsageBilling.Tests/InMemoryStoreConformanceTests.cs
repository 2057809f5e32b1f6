using UsageBilling.Testing;

namespace UsageBilling.Tests;

public sealed class InMemoryCreditStoreTests : CreditStoreSpecification
{
    protected override ValueTask<ICreditStore> CreateStoreAsync() => ValueTask.FromResult<ICreditStore>(new InMemoryCreditStore());
}

public sealed class InMemoryApiKeyStoreTests : ApiKeyStoreSpecification
{
    protected override ValueTask<IApiKeyStore> CreateStoreAsync() => ValueTask.FromResult<IApiKeyStore>(new InMemoryApiKeyStore());
}

public sealed class InMemoryAccountStoreTests : AccountStoreSpecification
{
    protected override ValueTask<IAccountStore> CreateStoreAsync() => ValueTask.FromResult<IAccountStore>(new InMemoryAccountStore());
}

public sealed class InMemoryUsageStoreTests : UsageStoreSpecification
{
    protected override ValueTask<IUsageStore> CreateStoreAsync() => ValueTask.FromResult<IUsageStore>(new InMemoryUsageStore());
}

public sealed class InMemoryRateLimitCounterStoreTests : RateLimitCounterStoreSpecification
{
    protected override ValueTask<IRateLimitCounterStore> CreateStoreAsync()
        => ValueTask.FromResult<IRateLimitCounterStore>(new InMemoryRateLimitCounterStore(TimeProvider.System));
}

public sealed class InMemoryModelPriceStoreTests : ModelPriceStoreSpecification
{
    protected override ValueTask<IModelPriceStore> CreateStoreAsync() => ValueTask.FromResult<IModelPriceStore>(new InMemoryModelPriceStore());
}

public sealed class InMemoryProviderKeyStoreTests : ProviderKeyStoreSpecification
{
    protected override ValueTask<IProviderKeyStore> CreateStoreAsync() => ValueTask.FromResult<IProviderKeyStore>(new InMemoryProviderKeyStore());
}
