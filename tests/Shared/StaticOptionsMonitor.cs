using Microsoft.Extensions.Options;

namespace UsageBilling.Tests.Shared;

/// <summary>An <see cref="IOptionsMonitor{TOptions}"/> that always answers one value, for constructing services by hand.</summary>
internal sealed class StaticOptionsMonitor<TOptions>(TOptions value) : IOptionsMonitor<TOptions>
{
    public TOptions CurrentValue => value;

    public TOptions Get(string? name) => value;

    public IDisposable? OnChange(Action<TOptions, string?> listener) => null;
}
