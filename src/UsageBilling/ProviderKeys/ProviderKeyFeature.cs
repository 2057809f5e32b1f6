namespace UsageBilling;

/// <summary>
/// Set on an LLM-metered request (<c>.MeterLlmUsage(provider: "openai")</c>) when the caller's account has its own
/// enabled key for the provider: the endpoint calls the provider with <see cref="Key"/>, and the call is charged only
/// <see cref="LlmOptions.OwnProviderKeyFee"/> instead of token prices.
/// </summary>
public interface IProviderKeyFeature
{
    /// <summary>The provider, lower-case.</summary>
    string Provider { get; }

    /// <summary>The account's key for the provider, decrypted for this call. Never log it.</summary>
    string Key { get; }
}

internal sealed class ProviderKeyFeature(string provider, string key) : IProviderKeyFeature
{
    public string Provider { get; } = provider;

    public string Key { get; } = key;

    public override string ToString() => $"{Provider} key {ProviderKeyManager.Mask(Key)}";
}
