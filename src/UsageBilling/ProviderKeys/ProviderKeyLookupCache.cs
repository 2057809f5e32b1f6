using Microsoft.Extensions.Options;

namespace UsageBilling;

/// <summary>
/// Accounts' provider keys as stored (encrypted), by account and provider, so that an LLM call makes no store call to
/// learn whether its account brings its own key. Only the protected key is kept; it is decrypted for each call.
/// </summary>
internal sealed class ProviderKeyLookupCache(IOptions<UsageBillingOptions> options, int maxEntries = ProviderKeyLookupCache.MaxEntries)
    : LookupCache<ProviderKey>(options, maxEntries)
{
    public static string KeyOf(string accountId, string provider) => string.Concat(accountId, "\n", provider);
}
