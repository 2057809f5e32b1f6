using System.Diagnostics;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace UsageBilling;

/// <summary>
/// Meters endpoints that carry <see cref="MeteredAttribute"/> (flat price) or <see cref="MeterLlmUsageAttribute"/> (LLM tokens): identifies the key, counts the request against its
/// limits (429), reserves the price on the account (402), runs the endpoint, then settles or releases the hold
/// exactly once and queues a usage record. Endpoints without the attribute pass straight through.
/// </summary>
internal sealed partial class UsageBillingMiddleware
{
    internal const string IdempotencyKeyHeader = "Idempotency-Key";
    private static readonly object SettledRecordKey = new();
    private const int MaxIdempotencyKeyLength = 255;

    private readonly RequestDelegate _next;
    private readonly RequestLimitEnforcer _limits;
    private readonly CreditManager _credits;
    private readonly IPricingCatalog _pricing;
    private readonly LlmMeter _llm;
    private readonly BudgetEnforcer _budgets;
    private readonly ProviderKeyManager _providerKeys;
    private readonly BillingAlerts _alerts;
    private readonly UsageLogQueue _usageLog;
    private readonly TimeProvider _timeProvider;
    private readonly UsageBillingMetrics _metrics;
    private readonly IOptionsMonitor<UsageBillingOptions> _options;
    private readonly ILogger<UsageBillingMiddleware> _logger;

    public UsageBillingMiddleware(RequestDelegate next, RequestLimitEnforcer limits, CreditManager credits, IPricingCatalog pricing, LlmMeter llm,
        BudgetEnforcer budgets, BillingAlerts alerts, ProviderKeyManager providerKeys, UsageLogQueue usageLog, TimeProvider timeProvider, UsageBillingMetrics metrics, IOptionsMonitor<UsageBillingOptions> options,
        ILogger<UsageBillingMiddleware> logger)
    {
        _next = next;
        _limits = limits;
        _credits = credits;
        _pricing = pricing;
        _llm = llm;
        _budgets = budgets;
        _providerKeys = providerKeys;
        _alerts = alerts;
        _usageLog = usageLog;
        _timeProvider = timeProvider;
        _metrics = metrics;
        _options = options;
        _logger = logger;
    }

    public Task InvokeAsync(HttpContext context)
    {
        var metadata = context.GetEndpoint()?.Metadata;
        if (metadata is null)
        {
            return _next(context);
        }

        var llm = metadata.GetMetadata<MeterLlmUsageAttribute>();
        var flat = llm is null ? metadata.GetMetadata<MeteredAttribute>() : null;
        return llm is null && flat is null ? _next(context) : InvokeMeteredAsync(context, flat, llm);
    }

    private async Task InvokeMeteredAsync(HttpContext context, MeteredAttribute? flat, MeterLlmUsageAttribute? llm)
    {
        var started = Stopwatch.GetTimestamp();
        var now = _timeProvider.GetUtcNow();
        var caller = context.Features.Get<IApiKeyFeature>();
        if (caller is null)
        {
            // The app's default scheme may be another one: authenticate with ours explicitly.
            await context.AuthenticateAsync(ApiKeyDefaults.AuthenticationScheme).ConfigureAwait(false);
            caller = context.Features.Get<IApiKeyFeature>();
            if (caller is null)
            {
                _metrics.RequestRejected("unauthenticated");
                await context.ChallengeAsync(ApiKeyDefaults.AuthenticationScheme).ConfigureAwait(false);
                return;
            }
        }

        _metrics.RequestMetered();
        var request = context.Request;
        var route = (context.GetEndpoint() as RouteEndpoint)?.RoutePattern.RawText ?? request.Path.Value ?? "/";
        var record = new UsageRecord
        {
            RequestId = BillingIds.New("req", _timeProvider),
            Timestamp = now,
            KeyId = caller.Key.Id,
            AccountId = caller.Account.Id,
            Method = request.Method,
            Route = route,
            StatusCode = 0,
            DurationMs = 0,
            Cost = Money.Zero,
        };

        try
        {
            record = await MeterAsync(context, flat, llm, caller, record, now).ConfigureAwait(false);
        }
        catch
        {
            // A call settled before its endpoint's exception was rethrown left its record behind.
            if (context.Items.Remove(SettledRecordKey, out var settled) && settled is UsageRecord settledRecord)
            {
                record = settledRecord;
            }

            record = record with
            {
                Outcome = record.Outcome ?? UsageOutcomes.Failed,
                StatusCode = context.Response.HasStarted ? context.Response.StatusCode : StatusCodes.Status500InternalServerError,
            };
            throw;
        }
        finally
        {
            if (record.StatusCode == 0)
            {
                record = record with { StatusCode = context.Response.StatusCode };
            }

            await _usageLog.EnqueueAsync(record with
            {
                DurationMs = Stopwatch.GetElapsedTime(started).TotalMilliseconds,
                ClientAborted = context.RequestAborted.IsCancellationRequested,
            }).ConfigureAwait(false);
        }
    }

    private async Task<UsageRecord> MeterAsync(HttpContext context, MeteredAttribute? flat, MeterLlmUsageAttribute? llm, IApiKeyFeature caller, UsageRecord record, DateTimeOffset now)
    {
        var request = context.Request;
        var idempotencyKey = request.Headers[IdempotencyKeyHeader].ToString();
        if (idempotencyKey.Length > 0 && !IsValidIdempotencyKey(idempotencyKey))
        {
            _metrics.RequestRejected("invalid_idempotency_key");
            await Problems.WriteAsync(context, StatusCodes.Status400BadRequest, ProblemTypes.InvalidIdempotencyKey, "Invalid Idempotency-Key",
                $"The Idempotency-Key header must be 1 to {MaxIdempotencyKeyLength} visible ASCII characters.").ConfigureAwait(false);
            return record with { Outcome = UsageOutcomes.IdempotencyConflict };
        }

        record = record with { IdempotencyKey = idempotencyKey.Length > 0 ? idempotencyKey : null };

        var options = _options.CurrentValue;
        var multiplier = 1m;
        var level = request.Headers[options.Pricing.MultiplierHeader].ToString();
        if (level.Length > 0 && !options.Pricing.Multipliers.TryGetValue(level, out multiplier))
        {
            _metrics.RequestRejected("unknown_multiplier");
            await Problems.WriteAsync(context, StatusCodes.Status400BadRequest, ProblemTypes.UnknownMultiplier, "Unknown Price Level",
                $"'{level}' is not a price level; use one of: {string.Join(", ", options.Pricing.Multipliers.Keys)}.").ConfigureAwait(false);
            return record with { Outcome = UsageOutcomes.Rejected };
        }

        // Price before the call: a flat price, or an LLM estimate (input counted + the largest output allowed).
        Money price;
        LlmEstimate? estimate = null;
        if (llm is not null)
        {
            var ownKey = llm.Provider is { } provider
                ? await _providerKeys.GetActiveKeyAsync(caller.Account.Id, provider, context.RequestAborted).ConfigureAwait(false)
                : null;
            estimate = await _llm.EstimateAsync(context, llm, caller.Account, ownKey is null ? multiplier : 1m, ownKey is not null, now).ConfigureAwait(false);
            if (estimate is null)
            {
                return record with { Outcome = UsageOutcomes.Rejected };
            }

            if (ownKey is not null)
            {
                context.Features.Set<IProviderKeyFeature>(new ProviderKeyFeature(ProviderKeyManager.NormalizeProvider(llm.Provider)!, ownKey));
            }

            price = estimate.ReserveAmount;
            record = record with { Model = estimate.Price.Model, Streamed = estimate.Request.Stream };
        }
        else if (await ResolvePriceAsync(flat!, context.RequestAborted).ConfigureAwait(false) is { } flatPrice)
        {
            price = multiplier == 1m ? flatPrice : new Money((long)decimal.Ceiling(flatPrice.Nanos * multiplier));
        }
        else
        {
            Log.PriceMissing(_logger, flat!.PriceName, record.Route);
            _metrics.RequestRejected("price_not_configured");
            await Problems.WriteAsync(context, StatusCodes.Status500InternalServerError, ProblemTypes.PriceNotConfigured, "Price Not Configured",
                "This endpoint is metered but has no price configured; nothing was charged.").ConfigureAwait(false);
            return record with { Outcome = UsageOutcomes.Failed };
        }

        var limits = PlanLimits.For(options, caller.Account.Plan, caller.Key);
        var decision = await _limits.AcquireAsync(caller.Key.Id, limits, now, context.RequestAborted, estimate?.TokenEstimate ?? 0).ConfigureAwait(false);
        RateLimitHeaders.Apply(context.Response, decision, now);
        if (!decision.Allowed)
        {
            var exceeded = decision.Exceeded!.Value;
            _metrics.RequestRejected(UsageOutcomes.RateLimited);
            var unit = exceeded.IsTokens ? "tokens" : "requests";
            await Problems.WriteAsync(context, StatusCodes.Status429TooManyRequests, ProblemTypes.RateLimited, "Too Many Requests",
                $"The {exceeded.Policy} limit of {exceeded.Limit} {unit} is used up; retry after {RateLimitHeaders.SecondsUntil(exceeded.ResetAt, now)} s.",
                new Dictionary<string, object?> { ["limit"] = exceeded.Policy, ["resetAt"] = exceeded.ResetAt }).ConfigureAwait(false);
            return record with { Outcome = UsageOutcomes.RateLimited };
        }

        var budget = await _budgets.AcquireAsync(caller.Account, caller.Key, price, now, context.RequestAborted).ConfigureAwait(false);
        if (budget.Exceeded is { } over)
        {
            await GiveBackAsync(context, decision, BudgetDecision.None, now).ConfigureAwait(false);
            _metrics.RequestRejected("budget_exceeded");
            await Problems.WriteAsync(context, StatusCodes.Status402PaymentRequired, ProblemTypes.BudgetExceeded, "Budget Exceeded",
                $"The {over.Name} budget of {over.Cap} has {Money.Max(Money.Zero, over.Cap - over.Spent)} left; this call needs {price}. It resets at {over.ResetAt:O}.",
                new Dictionary<string, object?> { ["budget"] = over.Name, ["cap"] = over.Cap, ["spent"] = over.Spent, ["required"] = price, ["resetAt"] = over.ResetAt }).ConfigureAwait(false);
            return record with { Outcome = UsageOutcomes.BudgetExceeded };
        }

        var reference = string.Concat(request.Method, " ", request.Path.Value);
        var reservationKey = idempotencyKey.Length > 0 ? "idem:" + idempotencyKey : "req:" + record.RequestId;
        var reserved = await _credits.ReserveAsync(caller.Account.Id, price, reservationKey, reference, context.RequestAborted).ConfigureAwait(false);
        switch (reserved.Status)
        {
            case ReserveStatus.InsufficientCredit:
                await GiveBackAsync(context, decision, budget, now).ConfigureAwait(false);
                _metrics.RequestRejected(UsageOutcomes.InsufficientCredits);
                await Problems.WriteAsync(context, StatusCodes.Status402PaymentRequired, ProblemTypes.InsufficientCredits, "Insufficient Credits",
                    $"This call needs {price} but the account has {Money.Max(Money.Zero, reserved.Balance?.Available ?? Money.Zero)} available.",
                    new Dictionary<string, object?> { ["required"] = price, ["available"] = reserved.Balance?.Available }).ConfigureAwait(false);
                return record with { Outcome = UsageOutcomes.InsufficientCredits };

            case ReserveStatus.Duplicate:
                var existing = reserved.Reservation!;
                if (!string.Equals(existing.Reference, reference, StringComparison.Ordinal))
                {
                    await GiveBackAsync(context, decision, budget, now).ConfigureAwait(false);
                    _metrics.RequestRejected("idempotency_key_reused");
                    await Problems.WriteAsync(context, StatusCodes.Status422UnprocessableEntity, ProblemTypes.IdempotencyKeyReused, "Idempotency-Key Reused",
                        "This Idempotency-Key was already used for a different request.").ConfigureAwait(false);
                    return record with { Outcome = UsageOutcomes.IdempotencyConflict };
                }

                if (existing.State == ReservationState.Active)
                {
                    await GiveBackAsync(context, decision, budget, now).ConfigureAwait(false);
                    _metrics.RequestRejected("idempotency_key_in_progress");
                    await Problems.WriteAsync(context, StatusCodes.Status409Conflict, ProblemTypes.IdempotencyKeyInProgress, "Request In Progress",
                        "A request with this Idempotency-Key is still being processed; retry later.").ConfigureAwait(false);
                    return record with { Outcome = UsageOutcomes.IdempotencyConflict };
                }

                // Settled before: serve the replay without charging again.
                await _budgets.CorrectAsync(budget.States, Money.Zero, CancellationToken.None).ConfigureAwait(false);
                context.Response.Headers["Idempotent-Replayed"] = "true";
                await _next(context).ConfigureAwait(false);
                return record with { Outcome = UsageOutcomes.Replayed };
        }

        var call = new MeteredCall(caller, reserved.Reservation!, budget);
        return estimate is null
            ? await RunFlatAsync(context, call, price, options, record).ConfigureAwait(false)
            : await RunLlmAsync(context, call, estimate, decision, options, record, now).ConfigureAwait(false);
    }

    private async Task<UsageRecord> RunFlatAsync(HttpContext context, MeteredCall call, Money price, UsageBillingOptions options, UsageRecord record)
    {
        try
        {
            await _next(context).ConfigureAwait(false);
        }
        catch
        {
            await ReleaseQuietlyAsync(call).ConfigureAwait(false);
            throw;
        }

        if (!options.IsBillableStatusCode(context.Response.StatusCode))
        {
            await ReleaseQuietlyAsync(call).ConfigureAwait(false);
            return record with { Outcome = UsageOutcomes.NotCharged };
        }

        return await SettleAsync(call, price, record).ConfigureAwait(false);
    }

    /// <summary>
    /// Runs an LLM endpoint with its response observed, then settles for the actual usage exactly once — on
    /// completion, on client disconnect and when the endpoint throws (then for what reached the client).
    /// </summary>
    private async Task<UsageRecord> RunLlmAsync(HttpContext context, MeteredCall call, LlmEstimate estimate, LimitDecision decision,
        UsageBillingOptions options, UsageRecord record, DateTimeOffset now)
    {
        var usageFeature = new LlmUsageFeature();
        context.Features.Set<ILlmUsageFeature>(usageFeature);
        var accumulator = new LlmUsageAccumulator(estimate.Request.Format);
        var originalBody = context.Response.Body;
        var observer = new LlmResponseObserver(originalBody, context.Response, accumulator, options.Llm.MaxJsonResponseBytes);
        context.Response.Body = observer;
        Exception? failure = null;
        try
        {
            await _next(context).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            failure = ex;
        }
        finally
        {
            context.Response.Body = originalBody;
            observer.Complete();
        }

        var aborted = context.RequestAborted.IsCancellationRequested;
        var billable = failure is null && !aborted && options.IsBillableStatusCode(context.Response.StatusCode);
        var delivered = observer.Started && options.IsBillableStatusCode(context.Response.StatusCode);
        var settlement = await _llm.SettleAsync(estimate, accumulator, usageFeature, billable, delivered, now, CancellationToken.None).ConfigureAwait(false);
        record = record with
        {
            Model = settlement.Model,
            InputTokens = settlement.Usage.InputTokens,
            CachedInputTokens = settlement.Usage.CachedInputTokens,
            OutputTokens = settlement.Usage.OutputTokens,
            TokensEstimated = settlement.Estimated,
            Streamed = observer.Streamed || estimate.Request.Stream,
        };

        if (decision.TokenIncrement is { } counted)
        {
            try
            {
                await _limits.CorrectTokensAsync(counted, _llm.RateLimitedTokens(settlement.Usage), CancellationToken.None).ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                Log.TokenCorrectionFailed(_logger, ex, record.RequestId);
            }
        }

        if (settlement.Cost.IsZero && settlement.Usage == default)
        {
            await ReleaseQuietlyAsync(call).ConfigureAwait(false);
            record = record with { Outcome = failure is null ? UsageOutcomes.NotCharged : UsageOutcomes.Failed };
        }
        else
        {
            _metrics.TokensBilled(settlement.Usage);
            record = await SettleAsync(call, settlement.Cost, record).ConfigureAwait(false);
        }

        if (failure is not null)
        {
            context.Items[SettledRecordKey] = record;
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(failure).Throw();
        }

        return record;
    }

    private async Task<UsageRecord> SettleAsync(MeteredCall call, Money amount, UsageRecord record)
    {
        try
        {
            await _credits.SettleAsync(call.Reservation.Id, amount, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            // The hold stays until it expires; the caller is never charged twice for it.
            Log.SettleFailed(_logger, ex, call.Reservation.Id);
            return record with { Outcome = UsageOutcomes.Failed };
        }

        _metrics.Charged(amount);
        await AfterChargeAsync(call, amount).ConfigureAwait(false);
        return record with { Cost = amount, Outcome = UsageOutcomes.Charged };
    }

    /// <summary>Moves the budgets from the hold to the charge and raises any alert the charge crossed; never fails the request.</summary>
    private async Task AfterChargeAsync(MeteredCall call, Money charged)
    {
        try
        {
            var budgets = await _budgets.CorrectAsync(call.Budget.States, charged, CancellationToken.None).ConfigureAwait(false);
            if (charged.IsZero)
            {
                return;
            }

            await _alerts.CheckBudgetsAsync(call.Caller.Account.Id, call.Caller.Key.Id, budgets, CancellationToken.None).ConfigureAwait(false);
            if (_options.CurrentValue.Alerts.LowBalance is not null)
            {
                var balance = await _credits.GetBalanceAsync(call.Caller.Account.Id, CancellationToken.None).ConfigureAwait(false);
                await _alerts.CheckBalanceAsync(call.Caller.Account.Id, balance, CancellationToken.None).ConfigureAwait(false);
            }
        }
        catch (Exception ex)
        {
            Log.AfterChargeFailed(_logger, ex, call.Reservation.Id);
        }
    }

    private async ValueTask<Money?> ResolvePriceAsync(MeteredAttribute metered, CancellationToken cancellationToken)
    {
        if (metered.Cost is { } cost)
        {
            return cost;
        }

        return metered.PriceName is { } name ? await _pricing.GetEndpointPriceAsync(name, cancellationToken).ConfigureAwait(false) : null;
    }

    /// <summary>Takes a refused request's counts (limits and budgets) back out and corrects the headers already set for it.</summary>
    private async Task GiveBackAsync(HttpContext context, LimitDecision decision, BudgetDecision budget, DateTimeOffset now)
    {
        await _limits.GiveBackAsync(decision.Increments, CancellationToken.None).ConfigureAwait(false);
        await _budgets.CorrectAsync(budget.States, Money.Zero, CancellationToken.None).ConfigureAwait(false);
        RateLimitHeaders.Apply(context.Response, decision.GivenBack(), now);
    }

    private async Task ReleaseQuietlyAsync(MeteredCall call)
    {
        try
        {
            await _credits.ReleaseAsync(call.Reservation.Id, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            Log.ReleaseFailed(_logger, ex, call.Reservation.Id);
        }

        await AfterChargeAsync(call, Money.Zero).ConfigureAwait(false);
    }

    private sealed record MeteredCall(IApiKeyFeature Caller, CreditReservation Reservation, BudgetDecision Budget);

    internal static bool IsValidIdempotencyKey(string key)
    {
        if (key.Length is 0 or > MaxIdempotencyKeyLength)
        {
            return false;
        }

        foreach (var c in key)
        {
            if (c is < '!' or > '~')
            {
                return false;
            }
        }

        return true;
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Error, "Endpoint {Route} is metered with price name '{PriceName}', but no such price is configured.", EventName = "PriceNotConfigured")]
        public static partial void PriceMissing(ILogger logger, string? priceName, string route);

        [LoggerMessage(2, LogLevel.Error, "Settling reservation {ReservationId} failed; its hold will be released when it expires.", EventName = "SettleFailed")]
        public static partial void SettleFailed(ILogger logger, Exception exception, string reservationId);

        [LoggerMessage(5, LogLevel.Warning, "Updating budgets or alerts after reservation {ReservationId} failed.", EventName = "AfterChargeFailed")]
        public static partial void AfterChargeFailed(ILogger logger, Exception exception, string reservationId);

        [LoggerMessage(4, LogLevel.Warning, "Correcting the token count of request {RequestId} failed.", EventName = "TokenCorrectionFailed")]
        public static partial void TokenCorrectionFailed(ILogger logger, Exception exception, string requestId);

        [LoggerMessage(3, LogLevel.Warning, "Releasing reservation {ReservationId} failed; its hold will be released when it expires.", EventName = "ReleaseFailed")]
        public static partial void ReleaseFailed(ILogger logger, Exception exception, string reservationId);
    }
}
