namespace UsageBilling;

/// <summary>
/// An account's own key for an LLM provider ("bring your own key"), stored encrypted with ASP.NET Core Data
/// Protection. Only <see cref="Masked"/> is ever shown; the plaintext is decrypted only for the call that uses it.
/// </summary>
public sealed record ProviderKey
{
    /// <summary>The key's id (for example <c>pk_0192...</c>).</summary>
    public required string Id { get; init; }

    /// <summary>The owning account.</summary>
    public required string AccountId { get; init; }

    /// <summary>The provider, lower-case (for example <c>openai</c>, <c>anthropic</c>, <c>openrouter</c>, <c>groq</c>); one key per provider per account.</summary>
    public required string Provider { get; init; }

    /// <summary>The Data Protection payload of the key; never the key itself.</summary>
    public required string ProtectedKey { get; init; }

    /// <summary>The key with all but its first three and last four characters hidden, for example <c>sk-…abcd</c>.</summary>
    public required string Masked { get; init; }

    /// <summary>Whether calls use it.</summary>
    public required bool Enabled { get; init; }

    /// <summary>When it was first stored.</summary>
    public required DateTimeOffset CreatedAt { get; init; }

    /// <summary>When it was last replaced, enabled or disabled.</summary>
    public required DateTimeOffset UpdatedAt { get; init; }
}
