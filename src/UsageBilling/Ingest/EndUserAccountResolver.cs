using Microsoft.Extensions.Options;

namespace UsageBilling;

/// <summary>The default <see cref="IIngestAccountResolver"/>: <see cref="IngestOptions.EndUserAccounts"/>, else the end-user id as an account id if that account exists.</summary>
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
        if (string.IsNullOrEmpty(ingestedCall.EndUser))
        {
            return null;
        }

        var candidate = _options.CurrentValue.Ingest.EndUserAccounts.TryGetValue(ingestedCall.EndUser, out var mapped) ? mapped : ingestedCall.EndUser;
        return await _accounts.FindAsync(candidate, cancellationToken).ConfigureAwait(false) is null ? null : candidate;
    }
}
