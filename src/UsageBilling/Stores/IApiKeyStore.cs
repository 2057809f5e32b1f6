namespace UsageBilling.Stores;

/// <summary>Persists API keys by hash. Implementations are thin data accessors; <see cref="ApiKeyManager"/> holds the rules.</summary>
public interface IApiKeyStore
{
    /// <summary>Stores a new key. Throws <see cref="InvalidOperationException"/> if the id or hash is already used.</summary>
    ValueTask CreateAsync(ApiKeyRecord key, CancellationToken cancellationToken = default);

    /// <summary>Finds a key by its hash (revoked and expired keys included), or returns <see langword="null"/>.</summary>
    ValueTask<ApiKeyRecord?> FindByHashAsync(string hash, CancellationToken cancellationToken = default);

    /// <summary>Finds a key by id, or returns <see langword="null"/>.</summary>
    ValueTask<ApiKeyRecord?> FindByIdAsync(string keyId, CancellationToken cancellationToken = default);

    /// <summary>Lists every key (revoked ones included) in id order, a page at a time.</summary>
    /// <param name="afterId">The last id of the previous page, or <see langword="null"/> for the first page.</param>
    /// <param name="limit">The most keys to return.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    ValueTask<IReadOnlyList<ApiKeyRecord>> ListAsync(string? afterId, int limit, CancellationToken cancellationToken = default);

    /// <summary>
    /// Replaces a key's name, expiry, limits and budget (matched by id); its hash, account, creation, revocation and
    /// last use stay as stored. Returns <see langword="false"/> if there is no such key.
    /// </summary>
    ValueTask<bool> UpdateAsync(ApiKeyRecord key, CancellationToken cancellationToken = default);

    /// <summary>Lists an account's keys, oldest first, revoked ones included.</summary>
    ValueTask<IReadOnlyList<ApiKeyRecord>> ListByAccountAsync(string accountId, CancellationToken cancellationToken = default);

    /// <summary>Marks a key revoked at <paramref name="revokedAt"/>. Returns <see langword="false"/> if no such key exists; revoking twice keeps the first time.</summary>
    ValueTask<bool> RevokeAsync(string keyId, DateTimeOffset revokedAt, CancellationToken cancellationToken = default);

    /// <summary>Records that the key was used at <paramref name="usedAt"/>; never moves the time backwards.</summary>
    ValueTask TouchAsync(string keyId, DateTimeOffset usedAt, CancellationToken cancellationToken = default);
}
