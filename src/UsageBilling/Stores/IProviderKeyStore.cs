namespace UsageBilling.Stores;

/// <summary>Persists accounts' own provider keys (already encrypted by <see cref="ProviderKeyManager"/>), one per provider per account.</summary>
public interface IProviderKeyStore
{
    /// <summary>Stores the key for (<see cref="ProviderKey.AccountId"/>, <see cref="ProviderKey.Provider"/>), replacing any there is; a replacement keeps the original id and creation time.</summary>
    ValueTask<ProviderKey> UpsertAsync(ProviderKey key, CancellationToken cancellationToken = default);

    /// <summary>The account's key for a provider, enabled or not, or <see langword="null"/>.</summary>
    ValueTask<ProviderKey?> FindAsync(string accountId, string provider, CancellationToken cancellationToken = default);

    /// <summary>The account's keys, by provider.</summary>
    ValueTask<IReadOnlyList<ProviderKey>> ListAsync(string accountId, CancellationToken cancellationToken = default);

    /// <summary>Enables or disables the account's key for a provider. Returns <see langword="false"/> if there is none.</summary>
    ValueTask<bool> SetEnabledAsync(string accountId, string provider, bool enabled, DateTimeOffset updatedAt, CancellationToken cancellationToken = default);

    /// <summary>Deletes the account's key for a provider. Returns <see langword="false"/> if there was none.</summary>
    ValueTask<bool> DeleteAsync(string accountId, string provider, CancellationToken cancellationToken = default);
}
