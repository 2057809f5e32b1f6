using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
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

public sealed class InMemoryCounterStoreTests : CounterStoreSpecification
{
    protected override ValueTask<ICounterStore> CreateStoreAsync()
        => ValueTask.FromResult<ICounterStore>(new InMemoryRateLimitCounterStore(TimeProvider.System));
}

public sealed class InMemoryModelPriceStoreTests : ModelPriceStoreSpecification
{
    protected override ValueTask<IModelPriceStore> CreateStoreAsync() => ValueTask.FromResult<IModelPriceStore>(new InMemoryModelPriceStore());
}

public sealed class InMemoryProviderKeyStoreTests : ProviderKeyStoreSpecification
{
    protected override ValueTask<IProviderKeyStore> CreateStoreAsync() => ValueTask.FromResult<IProviderKeyStore>(new InMemoryProviderKeyStore());
}

public sealed class InMemoryCallCompletionStoreTests : CallCompletionStoreSpecification, IAsyncLifetime
{
    // The default completion store over the in-memory stores, with the usage log that writes its records running.
    private readonly ServiceProvider _services = new ServiceCollection().AddLogging().AddUsageBilling().Services.BuildServiceProvider();

    public Task InitializeAsync() => _services.GetServices<IHostedService>().OfType<UsageLogWriter>().Single().StartAsync(CancellationToken.None);

    public async Task DisposeAsync() => await _services.DisposeAsync();

    protected override ValueTask<(ICallCompletionStore Completions, ICreditStore Credits, IUsageStore Usage, ICounterStore Counters)> CreateStoresAsync()
        => ValueTask.FromResult((_services.GetRequiredService<ICallCompletionStore>(), _services.GetRequiredService<ICreditStore>(), _services.GetRequiredService<IUsageStore>(),
            _services.GetRequiredService<ICounterStore>()));
}
