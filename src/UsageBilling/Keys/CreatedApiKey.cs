namespace UsageBilling;

/// <summary>A new key: the only time its plaintext is available.</summary>
/// <param name="Key">The stored key (no plaintext).</param>
/// <param name="Plaintext">The key to hand to the caller once. Never logged or stored.</param>
public sealed record CreatedApiKey(ApiKeyRecord Key, string Plaintext)
{
    /// <summary>Keeps the plaintext out of logs and debugger displays.</summary>
    public override string ToString() => $"CreatedApiKey {{ Key = {Key}, Plaintext = *** }}";
}
