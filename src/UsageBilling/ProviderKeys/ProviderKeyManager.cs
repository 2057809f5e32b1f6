using System.Text.RegularExpressions;
using Microsoft.AspNetCore.DataProtection;

namespace UsageBilling;

/// <summary>
/// Stores, lists and hands out accounts' own LLM provider keys ("bring your own key"). Keys are encrypted at rest with
/// ASP.NET Core Data Protection (configure a shared, persisted key ring when several instances run), listed only
/// masked, and decrypted only by <see cref="GetActiveKeyAsync"/> for the call that uses them. No method puts a key's
/// plaintext into an exception message, a log or a return value other than <see cref="GetActiveKeyAsync"/>. Lookups
/// for calls are cached as stored (encrypted) like API keys: a change made here is seen at once by this instance, by
/// others within <see cref="ApiKeyOptions.CacheDuration"/> (<see cref="ApiKeyOptions.NegativeCacheDuration"/> for a key added).
/// </summary>
public sealed partial class ProviderKeyManager
{
    internal const string Purpose = "UsageBilling.ProviderKeys.v1";

    private readonly IProviderKeyStore _store;
    private readonly IDataProtector _protector;
    private readonly TimeProvider _timeProvider;
    private readonly ProviderKeyLookupCache _cache;

    internal ProviderKeyManager(IProviderKeyStore store, IDataProtectionProvider dataProtection, TimeProvider timeProvider, ProviderKeyLookupCache cache)
    {
        _store = store;
        _protector = dataProtection.CreateProtector(Purpose);
        _timeProvider = timeProvider;
        _cache = cache;
    }

    /// <summary>Whether <paramref name="key"/> looks like a key of <paramref name="provider"/> (prefix and alphabet); the reason when it does not.</summary>
    public static bool IsPlausible(string provider, string key, out string? reason)
    {
        ArgumentNullException.ThrowIfNull(provider);
        ArgumentNullException.ThrowIfNull(key);
        reason = null;
        if (key.Length is < 20 or > 512 || !KeyAlphabet().IsMatch(key))
        {
            reason = "A provider key is 20 to 512 characters of letters, digits, '-', '_' and '.'.";
            return false;
        }

        var prefix = provider.ToLowerInvariant() switch
        {
            "openai" => "sk-",
            "anthropic" => "sk-ant-",
            "openrouter" => "sk-or-",
            "groq" => "gsk_",
            _ => null,
        };
        if (prefix is not null && !key.StartsWith(prefix, StringComparison.Ordinal))
        {
            reason = $"{provider} keys start with '{prefix}'.";
            return false;
        }

        return true;
    }

    /// <summary>Normalises a provider name (lower-case); <see langword="null"/> if it is not 1 to 32 letters, digits or '-'.</summary>
    public static string? NormalizeProvider(string? provider)
        => provider is { Length: > 0 and <= 32 } && ProviderName().IsMatch(provider) ? provider.ToLowerInvariant() : null;

    /// <summary>Stores (or replaces) the account's key for a provider, enabled.</summary>
    /// <exception cref="ArgumentException">The provider name or the key is not plausible (the message never contains the key).</exception>
    public async ValueTask<ProviderKey> SetAsync(string accountId, string provider, string key, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(accountId);
        var normalized = NormalizeProvider(provider) ?? throw new ArgumentException("The provider name must be 1 to 32 letters, digits or '-'.", nameof(provider));
        if (!IsPlausible(normalized, key, out var reason))
        {
            throw new ArgumentException(reason, nameof(key));
        }

        var now = _timeProvider.GetUtcNow();
        var stored = await _store.UpsertAsync(new ProviderKey
        {
            Id = BillingIds.New("pk", _timeProvider),
            AccountId = accountId,
            Provider = normalized,
            ProtectedKey = _protector.Protect(key),
            Masked = Mask(key),
            Enabled = true,
            CreatedAt = now,
            UpdatedAt = now,
        }, cancellationToken).ConfigureAwait(false);
        Forget(accountId, normalized);
        return stored;
    }

    /// <summary>The account's keys, masked.</summary>
    public ValueTask<IReadOnlyList<ProviderKey>> ListAsync(string accountId, CancellationToken cancellationToken = default)
        => _store.ListAsync(accountId, cancellationToken);

    /// <summary>Enables or disables the account's key for a provider; <see langword="false"/> if there is none.</summary>
    public async ValueTask<bool> SetEnabledAsync(string accountId, string provider, bool enabled, CancellationToken cancellationToken = default)
    {
        var normalized = NormalizeProvider(provider) ?? "";
        var changed = await _store.SetEnabledAsync(accountId, normalized, enabled, _timeProvider.GetUtcNow(), cancellationToken).ConfigureAwait(false);
        Forget(accountId, normalized);
        return changed;
    }

    /// <summary>Deletes the account's key for a provider; <see langword="false"/> if there was none.</summary>
    public async ValueTask<bool> DeleteAsync(string accountId, string provider, CancellationToken cancellationToken = default)
    {
        var normalized = NormalizeProvider(provider) ?? "";
        var deleted = await _store.DeleteAsync(accountId, normalized, cancellationToken).ConfigureAwait(false);
        Forget(accountId, normalized);
        return deleted;
    }

    /// <summary>
    /// The plaintext of the account's enabled key for a provider, for the gateway call that uses it, or
    /// <see langword="null"/> when there is none (or it cannot be decrypted with this app's key ring).
    /// </summary>
    public async ValueTask<string?> GetActiveKeyAsync(string accountId, string provider, CancellationToken cancellationToken = default)
    {
        var normalized = NormalizeProvider(provider);
        if (normalized is null || await FindAsync(accountId, normalized, cancellationToken).ConfigureAwait(false) is not { Enabled: true } key)
        {
            return null;
        }

        try
        {
            return _protector.Unprotect(key.ProtectedKey);
        }
        catch (System.Security.Cryptography.CryptographicException)
        {
            return null;
        }
    }

    /// <summary>The stored key of an account for a provider, through the lookup cache.</summary>
    private async ValueTask<ProviderKey?> FindAsync(string accountId, string provider, CancellationToken cancellationToken)
    {
        var cacheKey = ProviderKeyLookupCache.KeyOf(accountId, provider);
        var now = _timeProvider.GetUtcNow();
        if (!_cache.TryGet(cacheKey, now, out var key))
        {
            key = await _store.FindAsync(accountId, provider, cancellationToken).ConfigureAwait(false);
            _cache.Set(cacheKey, key, now);
        }

        return key;
    }

    /// <summary>Forgets the cached lookup after a change, so that this instance sees the change at once.</summary>
    private void Forget(string accountId, string provider) => _cache.Remove(ProviderKeyLookupCache.KeyOf(accountId, provider));

    /// <summary><c>sk-…abcd</c>: the first three and the last four characters.</summary>
    internal static string Mask(string key) => string.Concat(key.AsSpan(0, 3), "…", key.AsSpan(key.Length - 4));

    [GeneratedRegex("^[A-Za-z0-9_.-]+$", RegexOptions.CultureInvariant)]
    private static partial Regex KeyAlphabet();

    [GeneratedRegex("^[A-Za-z0-9-]+$", RegexOptions.CultureInvariant)]
    private static partial Regex ProviderName();
}
