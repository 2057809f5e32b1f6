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

    /// <summary>The most entries one post may carry. Default 1,000.</summary>
    public int MaxEntriesPerPost { get; set; } = 1000;
}

/// <summary>A call reported by another gateway, as far as account resolution needs it.</summary>
/// <param name="CallId">The gateway's call id.</param>
/// <param name="EndUser">The end-user id (<c>end_user</c>, else the <c>x-litellm-end-user-id</c> request header the gateway saw).</param>
/// <param name="KeyAlias">The gateway's key alias, if any.</param>
/// <param name="KeyHash">The gateway's key hash, if any.</param>
public sealed record IngestedCall(string CallId, string? EndUser, string? KeyAlias, string? KeyHash);

/// <summary>Finds the billing account of a call reported by another gateway.</summary>
public interface IIngestAccountResolver
{
    /// <summary>The account to bill, or <see langword="null"/> when there is none (the entry is then skipped with a reason).</summary>
    ValueTask<string?> ResolveAsync(IngestedCall ingestedCall, CancellationToken cancellationToken);
}
