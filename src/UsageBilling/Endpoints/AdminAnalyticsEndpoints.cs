using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Options;

namespace UsageBilling;

/// <summary>Usage analytics for admins: every number is aggregated by the usage store, in its database.</summary>
internal static class AdminAnalyticsEndpoints
{
    public static void Map(RouteGroupBuilder group)
    {
        MapSummary(group, "/analytics/summary", "getUsageSummary", "Totals for a period: requests, errors, tokens, cost, mean and p95 duration.", UsageGrouping.None, UsageOrder.Group);
        MapSummary(group, "/analytics/daily", "getUsageDaily", "Totals per UTC day.", UsageGrouping.Day, UsageOrder.Group);
        MapSummary(group, "/analytics/by-model", "getUsageByModel", "Totals per model, highest cost first.", UsageGrouping.Model, UsageOrder.CostDescending);
        MapSummary(group, "/analytics/by-key", "getUsageByKey", "Totals per API key, highest cost first.", UsageGrouping.Key, UsageOrder.CostDescending);
        MapSummary(group, "/analytics/by-account", "getUsageByAccount", "Totals per account, highest cost first.", UsageGrouping.Account, UsageOrder.CostDescending);
        group.MapGet("/analytics/top-accounts", TopAccountsAsync)
            .Describe("getTopAccounts", "The top N accounts by cost (by=cost, default) or requests (by=requests).")
            .QueryPeriod("default: this UTC month").QueryPageSize(10, "accounts")
            .ProducesJson<RouteHandlerBuilder, SummaryResponse>().ProducesProblems(StatusCodes.Status400BadRequest);
        group.MapGet("/analytics/quotas", QuotasAsync)
            .Describe("getQuotas", "Every key's monthly request quota this UTC month: used, limit, remaining, reset.")
            .QueryPageSize(100, "keys per page")
            .ProducesJson<RouteHandlerBuilder, QuotaPageResponse>().ProducesProblems(StatusCodes.Status400BadRequest);
    }

    private static void MapSummary(RouteGroupBuilder group, string pattern, string operationId, string summary, UsageGrouping grouping, UsageOrder order)
        => group.MapGet(pattern, (HttpContext context, IUsageStore usage, TimeProvider time, string? from, string? to, string? accountId, string? keyId)
                => SummarizeAsync(context, usage, time, new SummaryFilter(from, to, accountId, keyId), grouping, order))
            .Describe(operationId, summary).QueryPeriod("default: this UTC month")
            .ProducesJson<RouteHandlerBuilder, SummaryResponse>().ProducesProblems(StatusCodes.Status400BadRequest);

    /// <summary>The query of a summary: the period [from, to) (default: this UTC month), and optionally one account or key.</summary>
    private readonly record struct SummaryFilter(string? From, string? To, string? AccountId, string? KeyId);

    private static async Task<IResult> SummarizeAsync(HttpContext context, IUsageStore usage, TimeProvider time, SummaryFilter filter, UsageGrouping grouping, UsageOrder order, int? limit = null)
    {
        if (!EndpointHelpers.TryParsePeriod(filter.From, filter.To, time.GetUtcNow(), out var from, out var to, out var error))
        {
            return error!;
        }

        var rows = await usage.SummarizeAsync(new UsageSummaryQuery
        {
            From = from,
            To = to,
            AccountId = string.IsNullOrEmpty(filter.AccountId) ? null : filter.AccountId,
            KeyId = string.IsNullOrEmpty(filter.KeyId) ? null : filter.KeyId,
            GroupBy = grouping,
            OrderBy = order,
            Limit = limit,
        }, context.RequestAborted).ConfigureAwait(false);
        return TypedResults.Ok(new SummaryResponse(new PeriodResponse(from, to), rows));
    }

    private static Task<IResult> TopAccountsAsync(HttpContext context, IUsageStore usage, TimeProvider time, string? from, string? to, string? accountId, string? keyId,
        string? limit, string? by)
    {
        if (!EndpointHelpers.TryParseLimit(limit, 10, EndpointHelpers.MaxPageSize, out var top, out var error))
        {
            return Task.FromResult(error!);
        }

        UsageOrder? order = (by ?? "") switch
        {
            "" or "cost" => UsageOrder.CostDescending,
            "requests" => UsageOrder.RequestsDescending,
            _ => null,
        };
        return order is null
            ? Task.FromResult(Problems.Invalid("by", "Order by 'cost' or 'requests'."))
            : SummarizeAsync(context, usage, time, new SummaryFilter(from, to, accountId, keyId), UsageGrouping.Account, order.Value, top);
    }

    private static async Task<IResult> QuotasAsync(HttpContext context, IApiKeyStore keys, IAccountStore accounts, ICounterStore counters,
        IOptionsMonitor<UsageBillingOptions> options, TimeProvider time, string? limit, string? cursor)
    {
        if (!EndpointHelpers.TryParseLimit(limit, 100, EndpointHelpers.MaxPageSize, out var pageSize, out var error))
        {
            return error!;
        }

        var page = await keys.ListAsync(string.IsNullOrEmpty(cursor) ? null : cursor, pageSize, context.RequestAborted).ConfigureAwait(false);
        var now = time.GetUtcNow();
        var plans = new Dictionary<string, string>(StringComparer.Ordinal);
        var statuses = new List<(ApiKeyRecord Key, long? Limit, string CounterKey, DateTimeOffset ResetAt)>(page.Count);
        foreach (var key in page)
        {
            if (!plans.TryGetValue(key.AccountId, out var plan))
            {
                plan = (await accounts.FindAsync(key.AccountId, context.RequestAborted).ConfigureAwait(false))?.Plan ?? options.CurrentValue.Plans.DefaultPlan;
                plans[key.AccountId] = plan;
            }

            var limits = PlanLimits.For(options.CurrentValue, plan, key);
            var month = LimitWindows.MonthWindow(key.Id, limits.MonthlyRequests ?? 0, now);
            statuses.Add((key, limits.MonthlyRequests, month.CounterKey, month.ResetAt));
        }

        var used = await counters.GetAsync(statuses.Select(s => s.CounterKey).ToList(), context.RequestAborted).ConfigureAwait(false);
        var rows = statuses.Select((s, i) => new QuotaStatusResponse(s.Key.Id, s.Key.AccountId, s.Key.Name, s.Key.RevokedAt is not null, used[i], s.Limit,
            s.Limit is { } l ? Math.Max(0, l - used[i]) : null, s.ResetAt)).ToList();
        return TypedResults.Ok(new QuotaPageResponse(rows, page.Count == pageSize ? page[^1].Id : null));
    }
}
