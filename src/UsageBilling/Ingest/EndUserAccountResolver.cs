using Microsoft.Extensions.Options;

namespace UsageBilling;

/// <summary>
/// The default <see cref="IIngestAccountResolver"/>: tries <see cref="IngestOptions.AccountFrom"/> in order — each
/// value through its map (<see cref="IngestOptions.AccountMaps"/>, and <see cref="IngestOptions.EndUserAccounts"/> for
/// end-user sources), else as an account id — and takes the first that names an existing account; then
/// <see cref="IngestOptions.DefaultAccountId"/> if set.
/// </summary>
internal sealed class EndUserAccountResolver : IIngestAccountResolver
{
    private readonly IOptionsMonitor<UsageBillingOptions> _options;
    private readonly IAccountStore _accounts;

    public EndUserAccountResolver(IOptionsMonitor<UsageBillingOptions> options, IAccountStore accounts)
    {
        _options = options;
        _accounts = accounts;
    }

    public async ValueTask<string?> ResolveAsync(IngestedCall ingestedCall, CancellationToken cancellationToken)
    {
        var ingest = _options.CurrentValue.Ingest;
        foreach (var source in ingest.AccountFrom.Count > 0 ? ingest.AccountFrom : IngestAccountSources.Default)
        {
            var normalized = source.Trim().ToLowerInvariant();
            ingest.AccountMaps.TryGetValue(normalized, out var map);
            foreach (var value in ingestedCall.ValuesOf(normalized))
            {
                var candidate = map is not null && map.TryGetValue(value, out var mapped) ? mapped
                    : IngestAccountSources.IsEndUser(normalized) && ingest.EndUserAccounts.TryGetValue(value, out var endUserMapped) ? endUserMapped
                    : value;
                if (await _accounts.FindAsync(candidate, cancellationToken).ConfigureAwait(false) is not null)
                {
                    return candidate;
                }
            }
        }

        return ingest.DefaultAccountId is { Length: > 0 } fallback && await _accounts.FindAsync(fallback, cancellationToken).ConfigureAwait(false) is not null
            ? fallback
            : null;
    }
}
