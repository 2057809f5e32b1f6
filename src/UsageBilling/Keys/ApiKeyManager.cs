using Microsoft.Extensions.Options;

namespace UsageBilling;

/// <summary>Creates, validates and revokes API keys. Use it from your own code (for example a sign-up flow) as the admin endpoints do.</summary>
public sealed class ApiKeyManager
{
    private readonly IApiKeyStore _keys;
    private readonly IAccountStore _accounts;
    private readonly TimeProvider _timeProvider;
    private readonly ApiKeyLookupCache _cache;

    internal ApiKeyManager(IApiKeyStore keys, IAccountStore accounts, TimeProvider timeProvider, ApiKeyLookupCache cache, IOptions<UsageBillingOptions> options)
    {
        _keys = keys;
        _accounts = accounts;
        _timeProvider = timeProvider;
        _cache = cache;
        Format = new ApiKeyFormat(options.Value.Keys.Prefix, options.Value.Keys.Pepper);
    }

    internal ApiKeyFormat Format { get; }

    /// <summary>Creates a key for an existing account and returns its plaintext, once.</summary>
    /// <exception cref="InvalidOperationException">The account does not exist.</exception>
    public async ValueTask<CreatedApiKey> CreateAsync(string accountId, string name, DateTimeOffset? expiresAt = null, RequestLimits? limits = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(accountId);
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        _ = await _accounts.FindAsync(accountId, cancellationToken).ConfigureAwait(false)
            ?? throw new InvalidOperationException($"Account '{accountId}' does not exist.");

        var plaintext = Format.Generate();
        var record = new ApiKeyRecord
        {
            Id = BillingIds.New("key", _timeProvider),
            AccountId = accountId,
            Name = name,
            DisplayPrefix = Format.DisplayPrefix(plaintext),
            Hash = Format.Hash(plaintext),
            CreatedAt = _timeProvider.GetUtcNow(),
            ExpiresAt = expiresAt,
            Limits = limits,
        };
        await _keys.CreateAsync(record, cancellationToken).ConfigureAwait(false);
        return new CreatedApiKey(record, plaintext);
    }

    /// <summary>Revokes a key; this instance refuses it at once, other instances within <see cref="ApiKeyOptions.CacheDuration"/>.</summary>
    /// <returns><see langword="false"/> if there is no such key.</returns>
    public async ValueTask<bool> RevokeAsync(string keyId, CancellationToken cancellationToken = default)
    {
        var key = await _keys.FindByIdAsync(keyId, cancellationToken).ConfigureAwait(false);
        if (key is null)
        {
            return false;
        }

        var revoked = await _keys.RevokeAsync(keyId, _timeProvider.GetUtcNow(), cancellationToken).ConfigureAwait(false);
        _cache.Remove(key.Hash);
        return revoked;
    }

    /// <summary>Changes a key's limits and budget; this instance sees the change at once, others within <see cref="ApiKeyOptions.CacheDuration"/>.</summary>
    /// <returns>The updated key, or <see langword="null"/> if there is no such key.</returns>
    public async ValueTask<ApiKeyRecord?> UpdateAsync(string keyId, RequestLimits? limits, SpendBudget? budget, CancellationToken cancellationToken = default)
    {
        var key = await _keys.FindByIdAsync(keyId, cancellationToken).ConfigureAwait(false);
        if (key is null)
        {
            return null;
        }

        var updated = key with { Limits = limits, Budget = budget };
        if (!await _keys.UpdateAsync(updated, cancellationToken).ConfigureAwait(false))
        {
            return null;
        }

        _cache.Remove(key.Hash);
        return updated;
    }

    /// <summary>Checks a presented key: format first (no I/O), then the store through a short-lived cache.</summary>
    internal async ValueTask<ApiKeyValidation> ValidateAsync(string presented, CancellationToken cancellationToken)
    {
        if (!Format.IsWellFormed(presented))
        {
            return ApiKeyValidation.Failed(ApiKeyFailure.Malformed);
        }

        var hash = Format.Hash(presented);
        var now = _timeProvider.GetUtcNow();
        if (!_cache.TryGet(hash, now, out var resolved))
        {
            resolved = await ResolveAsync(hash, cancellationToken).ConfigureAwait(false);
            _cache.Set(hash, resolved, now);
        }

        if (resolved is null)
        {
            return ApiKeyValidation.Failed(ApiKeyFailure.Unknown);
        }

        if (resolved.Key.RevokedAt is not null)
        {
            return ApiKeyValidation.Failed(ApiKeyFailure.Revoked);
        }

        if (resolved.Key.ExpiresAt is { } expiresAt && expiresAt <= now)
        {
            return ApiKeyValidation.Failed(ApiKeyFailure.Expired);
        }

        return new ApiKeyValidation(resolved, null);
    }

    private async ValueTask<ResolvedApiKey?> ResolveAsync(string hash, CancellationToken cancellationToken)
    {
        var key = await _keys.FindByHashAsync(hash, cancellationToken).ConfigureAwait(false);
        // The store matched on the hash; compare again in constant time so a store that matches loosely
        // (collation, prefix index) can never let a different key through.
        if (key is null || !ApiKeyLookupCache.FixedTimeEquals(key.Hash, hash))
        {
            return null;
        }

        var account = await _accounts.FindAsync(key.AccountId, cancellationToken).ConfigureAwait(false);
        return account is null ? null : new ResolvedApiKey(key, account);
    }
}

internal sealed record ResolvedApiKey(ApiKeyRecord Key, BillingAccount Account);

internal enum ApiKeyFailure
{
    Malformed,
    Unknown,
    Revoked,
    Expired,
}

internal readonly record struct ApiKeyValidation(ResolvedApiKey? Key, ApiKeyFailure? Failure)
{
    public static ApiKeyValidation Failed(ApiKeyFailure failure) => new(null, failure);
}
