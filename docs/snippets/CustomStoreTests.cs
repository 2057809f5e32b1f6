using Xunit;
using UsageBilling;
using UsageBilling.Stores;
using UsageBilling.Testing;

namespace DocsSnippets;

// <snippet:custom-stores-conformance>
// In a test project referencing UsageBilling.Testing, xunit and xunit.runner.visualstudio.
public sealed class MyCounterStoreTests : CounterStoreSpecification
{
    protected override int Concurrency => 200;   // lower it for a slow backend

    protected override ValueTask<ICounterStore> CreateStoreAsync()
        => ValueTask.FromResult<ICounterStore>(new MyCounterStore(TimeProvider.System));
}

// A store on a server: skip the whole class, visibly and with the reason, when the server is not there.
public sealed class MyCounterStoreOnServerTests : CounterStoreSpecification
{
    private static readonly string? Server = Environment.GetEnvironmentVariable("MYSTORE_CONNECTION_STRING");

    protected override ValueTask<ICounterStore> CreateStoreAsync()
    {
        Skip.If(string.IsNullOrEmpty(Server), "Set MYSTORE_CONNECTION_STRING to run the conformance suite against a real server.");
        return ValueTask.FromResult<ICounterStore>(new MyCounterStore(TimeProvider.System));   // connect to Server here
    }
}
// </snippet:custom-stores-conformance>
