using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace UsageBilling;

/// <summary>What an LLM call is expected to cost before it runs.</summary>
internal sealed record LlmEstimate(LlmRequest Request, ModelPrice Price, decimal MarkupPercent, long InputTokens, long MaxOutputTokens, decimal Multiplier = 1m, bool OwnKey = false)
{
    /// <summary>Input as counted plus the largest output the request allows, priced.</summary>
    public Money ReserveAmount => LlmCost.Compute(Price, WorstCase, MarkupPercent, Multiplier);

    /// <summary>
    /// The usage the hold covers: input as counted, and the largest output the request allows, all of it in the
    /// dearest output dimension (reasoning or audio output may cost more than text), in the tier the request asks for.
    /// </summary>
    public LlmUsage WorstCase
    {
        get
        {
            var rates = Request.ServiceTier is { } tier && Price.ServiceTiers.TryGetValue(tier, out var tierPrice) ? tierPrice.Price : Price;
            if (rates.LongContext is { } longContext && InputTokens > longContext.ThresholdInputTokens)
            {
                rates = longContext.Price;
            }

            var output = rates.OutputPerMillion;
            var reasoning = rates.ReasoningOutputPerMillion ?? output;
            var audio = rates.AudioOutputPerMillion ?? output;
            return new LlmUsage(InputTokens, 0, MaxOutputTokens)
            {
                ReasoningTokens = reasoning > output && reasoning >= audio ? MaxOutputTokens : 0,
                AudioOutputTokens = audio > output && audio > reasoning ? MaxOutputTokens : 0,
                ServiceTier = Request.ServiceTier,
            };
        }
    }

    /// <summary>
    /// What <paramref name="usage"/> costs at this call's price, markup and multiplier. A cost past
    /// <see cref="CreditBalance.MaxBalance"/> (only an upstream reporting absurd usage gets there) is charged as that maximum.
    /// </summary>
    public Money CostOf(LlmUsage usage, ModelPrice? price = null) => Explain(usage, price).Cost;

    /// <summary>Like <see cref="CostOf"/>, with the per-dimension breakdown (none when the cost was capped).</summary>
    public (Money Cost, LlmCostBreakdown? Breakdown) Explain(LlmUsage usage, ModelPrice? price = null)
        => LlmCost.TryExplain(price ?? Price, usage, out var breakdown, MarkupPercent, Multiplier) && breakdown.Total <= CreditBalance.MaxBalance
            ? (breakdown.Total, breakdown)
            : (CreditBalance.MaxBalance, null);

    public long TokenEstimate => InputTokens + MaxOutputTokens;
}

/// <summary>What an LLM call actually cost.</summary>
internal sealed record LlmSettlement(string Model, LlmUsage Usage, bool Estimated, Money Cost, LlmCostBreakdown? Breakdown = null);

/// <summary>Prices LLM calls: parses and estimates before the call, and works out the actual usage after it.</summary>
internal sealed partial class LlmMeter
{
    private readonly IPricingCatalog _pricing;
    private readonly TokenCounter _tokens;
    private readonly IOptionsMonitor<UsageBillingOptions> _options;
    private readonly UsageBillingMetrics _metrics;
    private readonly ILogger<LlmMeter> _logger;

    public LlmMeter(IPricingCatalog pricing, TokenCounter tokens, IOptionsMonitor<UsageBillingOptions> options, UsageBillingMetrics metrics, ILogger<LlmMeter> logger)
    {
        _pricing = pricing;
        _tokens = tokens;
        _options = options;
        _metrics = metrics;
        _logger = logger;
    }

    /// <summary>Reads and prices the request; on bad input writes a 4xx problem and returns <see langword="null"/>.</summary>
    /// <param name="context">The request.</param>
    /// <param name="metered">The endpoint's metadata.</param>
    /// <param name="account">The caller's account.</param>
    /// <param name="multiplier">The request's price multiplier.</param>
    /// <param name="ownKey">Whether the call uses the account's own provider key: then only <see cref="LlmOptions.OwnProviderKeyFee"/> is charged and the model needs no price.</param>
    /// <param name="now">Now.</param>
    public async Task<LlmEstimate?> EstimateAsync(HttpContext context, MeterLlmUsageAttribute metered, BillingAccount account, decimal multiplier, bool ownKey, DateTimeOffset now)
    {
        var options = _options.CurrentValue;
        var request = context.Request;
        if (request.ContentLength > options.Llm.MaxRequestBytes)
        {
            await TooLargeAsync(context, options.Llm.MaxRequestBytes).ConfigureAwait(false);
            return null;
        }

        // Buffer the body so the endpoint can read it again after pricing.
        request.EnableBuffering(bufferThreshold: 64 * 1024, bufferLimit: options.Llm.MaxRequestBytes);
        // Read into one array, sized by Content-Length when the client sent it (at most MaxRequestBytes, checked above),
        // and parsed where it lies.
        var copy = new MemoryStream((int)(request.ContentLength ?? 0));
        ReadOnlyMemory<byte> body;
        try
        {
            await request.Body.CopyToAsync(copy, context.RequestAborted).ConfigureAwait(false);
            body = copy.GetBuffer().AsMemory(0, (int)copy.Length);
        }
        catch (IOException) when (!context.RequestAborted.IsCancellationRequested)
        {
            await TooLargeAsync(context, options.Llm.MaxRequestBytes).ConfigureAwait(false);
            return null;
        }
        finally
        {
            request.Body.Position = 0;
        }

        var format = LlmRequestParser.ResolveFormat(metered.Format, request.Path.Value ?? "");
        var parsed = LlmRequestParser.TryParse(body, format, out var error);
        if (parsed is null)
        {
            _metrics.RequestRejected("invalid_llm_request");
            await Problems.WriteAsync(context, StatusCodes.Status400BadRequest, ProblemTypes.InvalidLlmRequest, "Invalid Request", error!).ConfigureAwait(false);
            return null;
        }

        var price = await _pricing.GetModelPriceAsync(parsed.Model, now, context.RequestAborted).ConfigureAwait(false);
        if (ownKey)
        {
            // The account pays the provider itself: the platform fee is the whole price.
            var model = price?.Model ?? parsed.Model.Trim().ToLowerInvariant();
            if (!options.Plans.Allows(account.Plan, model))
            {
                await NotInPlanAsync(context, account, parsed).ConfigureAwait(false);
                return null;
            }

            var fee = new ModelPrice { Model = model, InputPerMillion = Money.Zero, OutputPerMillion = Money.Zero, CachedInputPerMillion = Money.Zero, RequestFee = options.Llm.OwnProviderKeyFee };
            var ownKeyEstimate = new LlmEstimate(parsed, fee, 0m, _tokens.CountInput(parsed, context.RequestAborted), parsed.MaxOutputTokens ?? options.Llm.DefaultMaxOutputTokens, OwnKey: true);
            return await WithinLimitAsync(context, ownKeyEstimate).ConfigureAwait(false);
        }

        if (price is null)
        {
            _metrics.UnknownModel(parsed.Model, options.Pricing.UnknownModel);
            Log.UnknownModel(_logger, parsed.Model, options.Pricing.UnknownModel);
            switch (options.Pricing.UnknownModel)
            {
                case UnknownModelPolicy.Reject:
                    _metrics.RequestRejected("unknown_model");
                    await Problems.WriteAsync(context, StatusCodes.Status400BadRequest, ProblemTypes.UnknownModel, "Unknown Model",
                        $"The model '{parsed.Model}' is not available.", new Dictionary<string, object?> { ["model"] = parsed.Model }).ConfigureAwait(false);
                    return null;
                case UnknownModelPolicy.DefaultPrice:
                    price = OptionsPricingCatalog.ToPrice(options.Pricing.DefaultModelPrice!) with { Model = parsed.Model };
                    break;
                default:
                    price = new ModelPrice { Model = parsed.Model, InputPerMillion = Money.Zero, OutputPerMillion = Money.Zero, CachedInputPerMillion = Money.Zero };
                    break;
            }
        }

        if (!options.Plans.Allows(account.Plan, price.Model))
        {
            await NotInPlanAsync(context, account, parsed).ConfigureAwait(false);
            return null;
        }

        var markup = await _pricing.GetPlanMarkupPercentAsync(account.Plan, context.RequestAborted).ConfigureAwait(false);
        var input = _tokens.CountInput(parsed, context.RequestAborted);
        var maxOutput = parsed.MaxOutputTokens ?? options.Llm.DefaultMaxOutputTokens;
        return await WithinLimitAsync(context, new LlmEstimate(parsed, price, markup, input, maxOutput, multiplier)).ConfigureAwait(false);
    }

    /// <summary>The estimate, or <see langword="null"/> after a 400 when its largest cost could never be held (it would overflow or pass the balance limit).</summary>
    private async Task<LlmEstimate?> WithinLimitAsync(HttpContext context, LlmEstimate estimate)
    {
        if (LlmCost.TryCompute(estimate.Price, estimate.WorstCase, out var reserve, estimate.MarkupPercent, estimate.Multiplier)
            && reserve <= CreditBalance.MaxBalance)
        {
            return estimate;
        }

        _metrics.RequestRejected("invalid_llm_request");
        await Problems.WriteAsync(context, StatusCodes.Status400BadRequest, ProblemTypes.InvalidLlmRequest, "Invalid Request",
            $"The request's largest cost ({estimate.InputTokens} input and {estimate.MaxOutputTokens} output tokens) is more than an account can hold; lower the output-token maximum or send less input.").ConfigureAwait(false);
        return null;
    }

    /// <summary>
    /// The actual usage: reported by the endpoint, else read from the response, else estimated with the tokenizer
    /// from what was delivered. Nothing is charged for a non-billable response that reported no usage.
    /// </summary>
    public async Task<LlmSettlement> SettleAsync(LlmEstimate estimate, LlmUsageAccumulator observed, ILlmUsageFeature reported, bool billable, bool delivered, DateTimeOffset at, CancellationToken cancellationToken)
    {
        var model = estimate.Price.Model;
        var price = estimate.Price;
        if (reported.Usage is { } usage)
        {
            if (!estimate.OwnKey && !string.Equals(reported.Model, estimate.Request.Model, StringComparison.OrdinalIgnoreCase)
                && await _pricing.GetModelPriceAsync(reported.Model!, at, cancellationToken).ConfigureAwait(false) is { } reportedPrice)
            {
                price = reportedPrice;
                model = reportedPrice.Model;
            }

            var (reportedCost, reportedBreakdown) = estimate.Explain(usage, price);
            return new LlmSettlement(model, usage, false, reportedCost, reportedBreakdown);
        }

        if (!observed.HasUsage && !billable && !delivered)
        {
            return new LlmSettlement(model, default, false, Money.Zero);
        }

        // At least what reached the client is charged, even when the stream ended before its usage event.
        var counted = _tokens.CountText(estimate.Request.Model, observed.OutputText, cancellationToken);
        var output = Math.Max(observed.ReportedOutputTokens ?? 0, counted);
        var estimated = observed.ReportedInputTokens is null || observed.ReportedOutputTokens is null || counted > observed.ReportedOutputTokens;
        var actual = observed.Usage(observed.ReportedInputTokens ?? estimate.InputTokens, output);
        actual = actual with { ServiceTier = actual.ServiceTier ?? estimate.Request.ServiceTier };
        var (cost, breakdown) = estimate.Explain(actual, price);
        return new LlmSettlement(model, actual, estimated, cost, breakdown);
    }

    /// <summary>The tokens a settled call counts against <see cref="RequestLimits.TokensPerMinute"/>.</summary>
    public long RateLimitedTokens(LlmUsage usage)
        => usage.InputTokens + usage.CacheWriteTokens + usage.OutputTokens + (_options.CurrentValue.Llm.CountCachedTokensInRateLimit ? usage.CachedInputTokens : 0);

    private Task NotInPlanAsync(HttpContext context, BillingAccount account, LlmRequest parsed)
    {
        _metrics.RequestRejected("model_not_in_plan");
        return Problems.WriteAsync(context, StatusCodes.Status403Forbidden, ProblemTypes.ModelNotInPlan, "Model Not In Plan",
            $"The '{account.Plan}' plan does not include the model '{parsed.Model}'.",
            new Dictionary<string, object?> { ["model"] = parsed.Model, ["plan"] = account.Plan });
    }

    private static Task TooLargeAsync(HttpContext context, int limit)
        => Problems.WriteAsync(context, StatusCodes.Status413PayloadTooLarge, ProblemTypes.RequestTooLarge, "Request Too Large",
            $"LLM requests are limited to {limit} bytes.");

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Warning, "A call named the model '{Model}', which has no price; policy {Policy} applied.", EventName = "UnknownModel")]
        public static partial void UnknownModel(ILogger logger, string model, UnknownModelPolicy policy);
    }
}
