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
        group.MapGet("/analytics/summary", (HttpContext context, IUsageStore usage, TimeProvider time)
            => SummarizeAsync(context, usage, time, UsageGrouping.None, UsageOrder.Group))
            .WithSummary("Totals for a period: requests, errors, tokens, cost, mean and p95 duration.");
        group.MapGet("/analytics/daily", (HttpContext context, IUsageStore usage, TimeProvider time)
            => SummarizeAsync(context, usage, time, UsageGrouping.Day, UsageOrder.Group))
            .WithSummary("Totals per UTC day.");
        group.MapGet("/analytics/by-model", (HttpContext context, IUsageStore usage, TimeProvider time)
            => SummarizeAsync(context, usage, time, UsageGrouping.Model, UsageOrder.CostDescending))
            .WithSummary("Totals per model, highest cost first.");
        group.MapGet("/analytics/by-key", (HttpContext context, IUsageStore usage, TimeProvider time)
            => SummarizeAsync(context, usage, time, UsageGrouping.Key, UsageOrder.CostDescending))
            .WithSummary("Totals per API key, highest cost first.");
        group.MapGet("/analytics/by-account", (HttpContext context, IUsageStore usage, TimeProvider time)
            => SummarizeAsync(context, usage, time, UsageGrouping.Account, UsageOrder.CostDescending))
            .WithSummary("Totals per account, highest cost first.");
        group.MapGet("/analytics/top-accounts", TopAccountsAsync)
            .WithSummary("The top N accounts by cost (by=cost, default) or requests (by=requests).");
        group.MapGet("/analytics/quotas", QuotasAsync)
            .WithSummary("Every key's monthly request quota this UTC month: used, limit, remaining, reset.");
    }

    private static async Task<IResult> SummarizeAsync(HttpContext context, IUsageStore usage, TimeProvider time, UsageGrouping grouping, UsageOrder order, int? limit = null)
    {
        if (!EndpointHelpers.TryParsePeriod(context.Request.Query, time.GetUtcNow(), out var from, out var to, out var error))
        {
            return error!;
        }

        string? accountId = context.Request.Query["accountId"];
        string? keyId = context.Request.Query["keyId"];
        var rows = await usage.SummarizeAsync(new UsageSummaryQuery
        {
            From = from,
            To = to,
            AccountId = string.IsNullOrEmpty(accountId) ? null : accountId,
            KeyId = string.IsNullOrEmpty(keyId) ? null : keyId,
            GroupBy = grouping,
            OrderBy = order,
            Limit = limit,
        }, context.RequestAborted).ConfigureAwait(false);
        return TypedResults.Ok(new SummaryResponse(new PeriodResponse(from, to), rows));
    }

    private static Task<IResult> TopAccountsAsync(HttpContext context, IUsageStore usage, TimeProvider time)
    {
        if (!EndpointHelpers.TryParseLimit(context.Request.Query, 10, EndpointHelpers.MaxPageSize, out var limit, out var error))
        {
            return Task.FromResult(error!);
        }

        var by = context.Request.Query["by"].ToString();
        UsageOrder? order = by switch
        {
            "" or "cost" => UsageOrder.CostDescending,
            "requests" => UsageOrder.RequestsDescending,
            _ => null,
        };
        return order is null
            ? Task.FromResult(Problems.Invalid("by", "Order by 'cost' or 'requests'."))
            : SummarizeAsync(context, usage, time, UsageGrouping.Account, order.Value, limit);
    }

    private static async Task<IResult> QuotasAsync(HttpContext context, IApiKeyStore keys, IAccountStore accounts, IRateLimitCounterStore counters,
        IOptionsMonitor<UsageBillingOptions> options, TimeProvider time)
    {
        if (!EndpointHelpers.TryParseLimit(context.Request.Query, 100, EndpointHelpers.MaxPageSize, out var limit, out var error))
        {
            return error!;
        }

        string? cursor = context.Request.Query["cursor"];
        var page = await keys.ListAsync(string.IsNullOrEmpty(cursor) ? null : cursor, limit, context.RequestAborted).ConfigureAwait(false);
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
        return TypedResults.Ok(new QuotaPageResponse(rows, page.Count == limit ? page[^1].Id : null));
    }
}
