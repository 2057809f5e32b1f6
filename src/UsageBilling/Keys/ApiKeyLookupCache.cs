using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Options;

namespace UsageBilling;

/// <summary>API key lookups, by the key's hash.</summary>
internal sealed class ApiKeyLookupCache(IOptions<UsageBillingOptions> options, int maxEntries = ApiKeyLookupCache.MaxEntries)
    : LookupCache<ResolvedApiKey>(options, maxEntries)
{
    public static bool FixedTimeEquals(string left, string right)
        => CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(left), Encoding.ASCII.GetBytes(right));
}
