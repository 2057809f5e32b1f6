using Microsoft.Extensions.Options;

namespace UsageBilling;

/// <summary>
/// Accounts' provider keys as stored (encrypted), by account and provider, so that an LLM call makes no store call
/// to learn whether its account brings its own key: found for <see cref="ApiKeyOptions.CacheDuration"/>, none for
/// <see cref="ApiKeyOptions.NegativeCacheDuration"/>. Only the protected key is kept; it is decrypted for each call.
/// </summary>
internal sealed class ProviderKeyLookupCache : LookupCache<ProviderKey>
{
    internal const int MaxEntries = 100_000;

    public ProviderKeyLookupCache(IOptions<UsageBillingOptions> options, int maxEntries = MaxEntries)
        : base(options.Value.Keys.CacheDuration, options.Value.Keys.NegativeCacheDuration, maxEntries)
    {
    }

    public static string KeyOf(string accountId, string provider) => string.Concat(accountId, "\n", provider);
}
