using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Options;

namespace UsageBilling;

/// <summary>API key lookups by hash, for <see cref="ApiKeyOptions.CacheDuration"/> (found) and <see cref="ApiKeyOptions.NegativeCacheDuration"/> (unknown).</summary>
internal sealed class ApiKeyLookupCache : LookupCache<ResolvedApiKey>
{
    internal const int MaxEntries = 100_000;

    public ApiKeyLookupCache(IOptions<UsageBillingOptions> options, int maxEntries = MaxEntries)
        : base(options.Value.Keys.CacheDuration, options.Value.Keys.NegativeCacheDuration, maxEntries)
    {
    }

    public static bool FixedTimeEquals(string left, string right)
        => CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(left), Encoding.ASCII.GetBytes(right));
}
