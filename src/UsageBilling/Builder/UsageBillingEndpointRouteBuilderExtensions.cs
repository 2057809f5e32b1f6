using Microsoft.AspNetCore.Routing;
using UsageBilling;

namespace Microsoft.AspNetCore.Builder;

/// <summary>Maps UsageBilling's HTTP APIs: the admin API, the self-service API and usage ingest.</summary>
public static class UsageBillingEndpointRouteBuilderExtensions
{
    /// <summary>
    /// Maps the admin endpoints under <paramref name="prefix"/> and returns their group, which the app must protect
    /// (for example <c>.RequireAuthorization("billing-admin")</c>). Money is a JSON number in currency units.
    /// </summary>
    /// <param name="endpoints">The app's endpoints.</param>
    /// <param name="prefix">The route prefix of the group.</param>
    public static RouteGroupBuilder MapUsageBillingAdmin(this IEndpointRouteBuilder endpoints, string prefix = "/admin/billing")
        => AdminEndpoints.Map(endpoints, prefix);

    /// <summary>
    /// Maps <c>GET {prefix}/balance</c>, <c>/usage</c>, <c>/limits</c>, <c>/ledger</c> and the account's own provider keys (<c>/provider-keys</c>), authenticated by the caller's
    /// API key. Every answer is about the key's own account, which comes from the key, never from the request.
    /// </summary>
    /// <param name="endpoints">The app's endpoints.</param>
    /// <param name="prefix">The route prefix of the group.</param>
    public static RouteGroupBuilder MapUsageBillingSelfService(this IEndpointRouteBuilder endpoints, string prefix = "/v1/billing")
        => SelfServiceEndpoints.Map(endpoints, prefix);

    /// <summary>
    /// Maps <c>POST {pattern}</c> for LiteLLM's <c>generic_api</c> success callback: a JSON array of
    /// <c>StandardLoggingPayload</c> objects (or one object), authenticated by <c>Authorization: Bearer</c>
    /// <see cref="IngestOptions.Secret"/>. Each call is charged once (by run id, else call id) however often it is
    /// posted, without a reservation — the balance may go below zero and the account's next metered call then gets 402 —
    /// and lands in the usage log. A bad entry is skipped with a reason; the rest of the batch is processed; the answer is
    /// <c>{ processed, skipped, duplicates, skippedEntries, acceptedEntries }</c>. Each record keeps the call's own start
    /// time, so <c>acceptedEntries</c> names, per billed or already-billed entry, the UTC month and day it was counted in
    /// (by analytics and by budgets), which is not the current one for a late post.
    /// </summary>
    /// <param name="endpoints">The app's endpoints.</param>
    /// <param name="pattern">The route of the endpoint.</param>
    public static RouteHandlerBuilder MapLiteLlmUsageIngest(this IEndpointRouteBuilder endpoints, string pattern = "/ingest/litellm")
        => IngestEndpoints.Map(endpoints, pattern);
}
