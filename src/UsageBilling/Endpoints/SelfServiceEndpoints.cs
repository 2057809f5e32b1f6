using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace UsageBilling;

/// <summary>The self-service API: what the calling API key's own account can see of itself (mapped by <see cref="UsageBillingEndpointRouteBuilderExtensions.MapUsageBillingSelfService"/>).</summary>
internal static class SelfServiceEndpoints
{
    /// <inheritdoc cref="UsageBillingEndpointRouteBuilderExtensions.MapUsageBillingSelfService"/>
    public static RouteGroupBuilder Map(IEndpointRouteBuilder endpoints, string prefix)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        if (endpoints.ServiceProvider.GetService<UsageBillingMarker>() is null)
        {
            throw new InvalidOperationException("Call 'builder.Services.AddUsageBilling(...)' before mapping the UsageBilling self-service endpoints.");
        }

        var group = endpoints.MapGroup(prefix).WithTags(UsageBillingOpenApiConfiguration.SelfServiceTag).RequireApiKey();
        group.AddEndpointFilter(StoreOutageFilter.InvokeAsync);
        group.MapGet("/balance", BalanceAsync).Describe("getOwnBalance", "The account's balance, held amount and what is available.")
            .ProducesJson<RouteHandlerBuilder, BalanceResponse>();
        group.MapGet("/usage", UsageAsync).Describe("getOwnUsage", "The account's usage for a period (default: this UTC month) by day and by model.")
            .QueryPeriod("default: this UTC month")
            .ProducesJson<RouteHandlerBuilder, SelfUsageResponse>().ProducesProblems(StatusCodes.Status400BadRequest);
        group.MapGet("/limits", LimitsAsync).Describe("getOwnLimits", "The calling key's limits, what is left in each window, and the budgets.")
            .ProducesJson<RouteHandlerBuilder, SelfLimitsResponse>();
        group.MapGet("/ledger", LedgerAsync).Describe("getOwnLedger", "A page of the account's ledger, newest first.").QueryPageSize(50, "entries per page")
            .ProducesJson<RouteHandlerBuilder, LedgerPageResponse>().ProducesProblems(StatusCodes.Status400BadRequest);
        ProviderKeyEndpoints.MapForSelf(group, "/provider-keys");
        return group;
    }

    private static async Task<IResult> BalanceAsync(HttpContext context, CreditManager credits)
    {
        var caller = Caller(context);
        var balance = await credits.GetBalanceAsync(caller.Account.Id, context.RequestAborted).ConfigureAwait(false);
        return TypedResults.Ok(new BalanceResponse(caller.Account.Id, balance.Balance, balance.Reserved, balance.Available));
    }

    private static async Task<IResult> UsageAsync(HttpContext context, IUsageStore usage, TimeProvider time, string? from, string? to)
    {
        var caller = Caller(context);
        if (!EndpointHelpers.TryParsePeriod(from, to, time.GetUtcNow(), out var start, out var end, out var error))
        {
            return error!;
        }

        var query = new UsageSummaryQuery { From = start, To = end, AccountId = caller.Account.Id };
        var totals = await usage.SummarizeAsync(query, context.RequestAborted).ConfigureAwait(false);
        var daily = await usage.SummarizeAsync(query with { GroupBy = UsageGrouping.Day }, context.RequestAborted).ConfigureAwait(false);
        var byModel = await usage.SummarizeAsync(query with { GroupBy = UsageGrouping.Model, OrderBy = UsageOrder.CostDescending }, context.RequestAborted).ConfigureAwait(false);
        return TypedResults.Ok(new SelfUsageResponse(new PeriodResponse(start, end), totals[0], daily, byModel));
    }

    private static async Task<IResult> LimitsAsync(HttpContext context, ICounterStore counters, IOptionsMonitor<UsageBillingOptions> options, TimeProvider time)
    {
        var caller = Caller(context);
        var now = time.GetUtcNow();
        var limits = PlanLimits.For(options.CurrentValue, caller.Account.Plan, caller.Key);
        var windows = LimitWindows.Windows(caller.Key.Id, limits, now);
        var budgets = new List<(string Name, Money Cap, string CounterKey, DateTimeOffset ResetAt)>();
        BudgetPeriods.AddPeriods(budgets, "account", caller.Account.Id, caller.Account.Budget, now);
        BudgetPeriods.AddPeriods(budgets, "key", caller.Key.Id, caller.Key.Budget, now);

        var values = await counters.GetAsync(windows.Select(w => w.CounterKey).Concat(budgets.Select(b => b.CounterKey)).ToList(), context.RequestAborted).ConfigureAwait(false);
        var windowStatus = windows.Select((w, i) => new LimitStatusResponse(w.Policy, w.Limit, values[i], Math.Max(0, w.Limit - values[i]), w.ResetAt)).ToList();
        var budgetStatus = budgets.Select((b, i) =>
        {
            var spent = new Money(values[windows.Length + i]);
            return new BudgetStatusResponse(b.Name, b.Cap, spent, Money.Max(Money.Zero, b.Cap - spent), b.ResetAt);
        }).ToList();
        return TypedResults.Ok(new SelfLimitsResponse(caller.Key.Id, caller.Account.Plan, limits, windowStatus, budgetStatus));
    }

    private static async Task<IResult> LedgerAsync(HttpContext context, CreditManager credits, string? limit, string? cursor)
    {
        var caller = Caller(context);
        if (!EndpointHelpers.TryParseLimit(limit, 50, EndpointHelpers.MaxPageSize, out var pageSize, out var error))
        {
            return error!;
        }

        var page = await credits.GetLedgerAsync(caller.Account.Id, pageSize, string.IsNullOrEmpty(cursor) ? null : cursor, context.RequestAborted).ConfigureAwait(false);
        return TypedResults.Ok(new LedgerPageResponse(page.Entries.Select(LedgerEntryResponse.From).ToList(), page.NextCursor));
    }

    private static IApiKeyFeature Caller(HttpContext context)
        => context.Features.Get<IApiKeyFeature>()
            ?? throw new InvalidOperationException("The self-service endpoints need the ApiKey scheme to have authenticated the request.");
}
