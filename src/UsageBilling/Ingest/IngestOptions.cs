namespace UsageBilling;

/// <summary>How usage reported by another gateway is priced.</summary>
public enum IngestPricing
{
    /// <summary>Price the reported tokens with this app's catalog and the account's plan markup (default).</summary>
    Catalog = 0,

    /// <summary>Trust the cost the gateway reports (LiteLLM's <c>response_cost</c>).</summary>
    ReportedCost = 1,
}

/// <summary>Options for ingesting usage that happened in another gateway (LiteLLM's <c>generic_api</c> callback).</summary>
public sealed class IngestOptions
{
    /// <summary>The bearer token the gateway must send (at least 32 characters). Without one, every post is refused.</summary>
    public string? Secret { get; set; }

    /// <summary>How ingested calls are priced. Default <see cref="IngestPricing.Catalog"/>.</summary>
    public IngestPricing Pricing { get; set; }

    /// <summary>The default account resolver's mapping: end-user id (LiteLLM <c>end_user</c>) → account id. An end user not listed is looked up as an account id.</summary>
    public IDictionary<string, string> EndUserAccounts { get; } = new Dictionary<string, string>(StringComparer.Ordinal);

    /// <summary>
    /// Where the default account resolver looks for the account, in order (see <see cref="IngestAccountSources"/>); the
    /// first value that names an existing account wins. Empty (the default): <c>end_user</c>, then <c>end_user_header</c>.
    /// </summary>
    public IList<string> AccountFrom { get; } = [];

    /// <summary>
    /// Per source, value → account id (for example <c>user_api_key_alias: { "acme-prod": "acct_123" }</c>). A value not
    /// listed is looked up as an account id. End-user sources also use <see cref="EndUserAccounts"/>.
    /// </summary>
    public IDictionary<string, IDictionary<string, string>> AccountMaps { get; } = new Dictionary<string, IDictionary<string, string>>(StringComparer.OrdinalIgnoreCase);

    /// <summary>The account billed when no source names one; unset (the default): such entries are skipped.</summary>
    public string? DefaultAccountId { get; set; }

    /// <summary>The most entries one post may carry. Default 1,000.</summary>
    public int MaxEntriesPerPost { get; set; } = 1000;
}

/// <summary>A call reported by another gateway, as far as account resolution needs it.</summary>
/// <param name="CallId">The gateway's call id.</param>
/// <param name="EndUser">The end-user id (<c>end_user</c>, else the <c>x-litellm-end-user-id</c> request header the gateway saw).</param>
/// <param name="KeyAlias">The gateway's key alias, if any.</param>
/// <param name="KeyHash">The gateway's key hash, if any.</param>
public sealed record IngestedCall(string CallId, string? EndUser, string? KeyAlias, string? KeyHash)
{
    /// <summary>The end-user id from the request header the gateway saw (<c>x-litellm-end-user-id</c>).</summary>
    public string? EndUserHeader { get; init; }

    /// <summary>The end user bound to the gateway's key (<c>metadata.user_api_key_end_user_id</c>).</summary>
    public string? KeyEndUserId { get; init; }

    /// <summary>The gateway key's team (<c>metadata.user_api_key_team_id</c>).</summary>
    public string? TeamId { get; init; }

    /// <summary>The gateway key's user (<c>metadata.user_api_key_user_id</c>).</summary>
    public string? UserId { get; init; }

    /// <summary>The request's tags (<c>request_tags</c>).</summary>
    public IReadOnlyList<string> Tags { get; init; } = [];

    /// <summary>The value a source gives (each tag for <see cref="IngestAccountSources.RequestTags"/>); none for an unknown source.</summary>
    public IEnumerable<string> ValuesOf(string source) => source.ToLowerInvariant() switch
    {
        IngestAccountSources.EndUser => Present(EndUser),
        IngestAccountSources.EndUserHeader => Present(EndUserHeader),
        IngestAccountSources.KeyEndUserId => Present(KeyEndUserId),
        IngestAccountSources.KeyAlias => Present(KeyAlias),
        IngestAccountSources.TeamId => Present(TeamId),
        IngestAccountSources.UserId => Present(UserId),
        IngestAccountSources.RequestTags => Tags.Where(t => !string.IsNullOrWhiteSpace(t)),
        _ => [],
    };

    private static IEnumerable<string> Present(string? value) => string.IsNullOrWhiteSpace(value) ? [] : [value];
}

/// <summary>The fields of a LiteLLM logging payload an account can be read from (<see cref="IngestOptions.AccountFrom"/>).</summary>
public static class IngestAccountSources
{
    /// <summary><c>end_user</c>: the end user the request named (the <c>user</c> parameter).</summary>
    public const string EndUser = "end_user";

    /// <summary>The <c>x-litellm-end-user-id</c> request header (<c>metadata.requester_custom_headers</c>).</summary>
    public const string EndUserHeader = "end_user_header";

    /// <summary><c>metadata.user_api_key_end_user_id</c>: the end user the gateway's key belongs to.</summary>
    public const string KeyEndUserId = "user_api_key_end_user_id";

    /// <summary><c>metadata.user_api_key_alias</c>: the gateway key's alias.</summary>
    public const string KeyAlias = "user_api_key_alias";

    /// <summary><c>metadata.user_api_key_team_id</c>.</summary>
    public const string TeamId = "user_api_key_team_id";

    /// <summary><c>metadata.user_api_key_user_id</c>.</summary>
    public const string UserId = "user_api_key_user_id";

    /// <summary><c>request_tags</c>: each tag, in order.</summary>
    public const string RequestTags = "request_tags";

    internal static readonly string[] Default = [EndUser, EndUserHeader];

    internal static readonly string[] All = [EndUser, EndUserHeader, KeyEndUserId, KeyAlias, TeamId, UserId, RequestTags];

    internal static bool IsEndUser(string source) => source is EndUser or EndUserHeader or KeyEndUserId;
}

/// <summary>Finds the billing account of a call reported by another gateway.</summary>
public interface IIngestAccountResolver
{
    /// <summary>The account to bill, or <see langword="null"/> when there is none (the entry is then skipped with a reason).</summary>
    ValueTask<string?> ResolveAsync(IngestedCall ingestedCall, CancellationToken cancellationToken);
}
