namespace UsageBilling;

/// <summary>Computes what an LLM call costs.</summary>
internal static class LlmCost
{
    /// <summary>
    /// The sum of every dimension of <paramref name="usage"/> at its price (see <see cref="Explain"/>), times
    /// <c>(100 + markup) / 100</c>, times the service tier's and the request's <paramref name="multiplier"/>, rounded
    /// up to the next nano-unit so that no call that used tokens is free. Computed in <see cref="decimal"/> (base 10,
    /// 28 digits) — never binary floating point.
    /// </summary>
    /// <exception cref="OverflowException">The cost does not fit in <see cref="Money"/>.</exception>
    public static Money Compute(ModelPrice price, LlmUsage usage, decimal markupPercent = 0m, decimal multiplier = 1m)
        => TryExplain(price, usage, out var breakdown, markupPercent, multiplier)
            ? breakdown.Total
            : throw new OverflowException($"The cost of {usage.InputTokens} input, {usage.CachedInputTokens} cached and {usage.OutputTokens} output tokens of '{price.Model}' is too large for an amount of money.");

    /// <summary>
    /// The cost of <paramref name="usage"/>, dimension by dimension: the service tier named by the usage (if the model
    /// prices it) and the long-context tier (when the input is above its threshold) choose the rates; then
    /// input, audio input, cached input, 5-minute and 1-hour cache writes, output, reasoning output, audio output,
    /// web-search requests, images and the per-request fee are each priced; their sum gets the markup and multipliers.
    /// </summary>
    /// <exception cref="OverflowException">The cost does not fit in <see cref="Money"/>.</exception>
    public static LlmCostBreakdown Explain(ModelPrice price, LlmUsage usage, decimal markupPercent = 0m, decimal multiplier = 1m)
        => TryExplain(price, usage, out var breakdown, markupPercent, multiplier)
            ? breakdown
            : throw new OverflowException($"The cost of {usage.InputTokens} input, {usage.CachedInputTokens} cached and {usage.OutputTokens} output tokens of '{price.Model}' is too large for an amount of money.");

    /// <summary>Like <see cref="Compute"/>, but returns <see langword="false"/> instead of throwing when the cost does not fit in <see cref="Money"/>.</summary>
    internal static bool TryCompute(ModelPrice price, LlmUsage usage, out Money cost, decimal markupPercent = 0m, decimal multiplier = 1m)
    {
        var ok = TryExplain(price, usage, out var breakdown, markupPercent, multiplier);
        cost = ok ? breakdown.Total : default;
        return ok;
    }

    internal static bool TryExplain(ModelPrice price, LlmUsage usage, out LlmCostBreakdown breakdown, decimal markupPercent = 0m, decimal multiplier = 1m)
    {
        ArgumentNullException.ThrowIfNull(price);
        if (usage.InputTokens < 0 || usage.CachedInputTokens < 0 || usage.OutputTokens < 0 || usage.CacheWrite5mTokens < 0 || usage.CacheWrite1hTokens < 0
            || usage.ReasoningTokens < 0 || usage.AudioInputTokens < 0 || usage.AudioOutputTokens < 0 || usage.WebSearchRequests < 0 || usage.Images < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(usage), usage, "Token counts cannot be negative.");
        }

        if (markupPercent <= -100m)
        {
            throw new ArgumentOutOfRangeException(nameof(markupPercent), markupPercent, "The markup must be above -100 %.");
        }

        if (multiplier < 0m)
        {
            throw new ArgumentOutOfRangeException(nameof(multiplier), multiplier, "The multiplier cannot be negative.");
        }

        breakdown = null!;
        var rates = price;
        var tierMultiplier = 1m;
        string? tier = null;
        if (usage.ServiceTier is { } named && price.ServiceTiers.TryGetValue(named, out var tierPrice))
        {
            rates = tierPrice.Price;
            tierMultiplier = tierPrice.Multiplier;
            tier = named;
        }

        var longContext = false;
        if (rates.LongContext is { } tierAbove && usage.TotalInputTokens > tierAbove.ThresholdInputTokens)
        {
            rates = tierAbove.Price;
            longContext = true;
        }

        try
        {
            // Subsets are clamped, so that a provider reporting more reasoning than output never bills negative tokens.
            var audioIn = Math.Min(usage.AudioInputTokens, usage.InputTokens);
            var reasoning = Math.Min(usage.ReasoningTokens, usage.OutputTokens);
            var audioOut = Math.Min(usage.AudioOutputTokens, usage.OutputTokens - reasoning);
            var input = rates.InputPerMillion.Nanos;
            var output = rates.OutputPerMillion.Nanos;
            var lines = new List<LlmCostLine>(4);
            decimal sum = 0m;
            void Tokens(string dimension, long tokens, decimal nanosPerMillion)
            {
                if (tokens == 0)
                {
                    return;
                }

                var nanos = tokens * nanosPerMillion / 1_000_000m;
                sum += nanos;
                lines.Add(new LlmCostLine(dimension, tokens, nanos / 1_000_000_000m));
            }

            void Units(string dimension, long units, long nanosEach)
            {
                if (units == 0 || nanosEach == 0)
                {
                    return;
                }

                var nanos = units * (decimal)nanosEach;
                sum += nanos;
                lines.Add(new LlmCostLine(dimension, units, nanos / 1_000_000_000m));
            }

            Tokens(LlmCostDimensions.Input, usage.InputTokens - audioIn, input);
            Tokens(LlmCostDimensions.AudioInput, audioIn, rates.AudioInputPerMillion?.Nanos ?? input);
            Tokens(LlmCostDimensions.CachedInput, usage.CachedInputTokens, rates.CachedInputPerMillion.Nanos);
            Tokens(LlmCostDimensions.CacheWrite5m, usage.CacheWrite5mTokens, rates.CacheWrite5mPerMillion?.Nanos ?? input * 1.25m);
            Tokens(LlmCostDimensions.CacheWrite1h, usage.CacheWrite1hTokens, rates.CacheWrite1hPerMillion?.Nanos ?? input * 2m);
            Tokens(LlmCostDimensions.Output, usage.OutputTokens - reasoning - audioOut, output);
            Tokens(LlmCostDimensions.Reasoning, reasoning, rates.ReasoningOutputPerMillion?.Nanos ?? output);
            Tokens(LlmCostDimensions.AudioOutput, audioOut, rates.AudioOutputPerMillion?.Nanos ?? output);
            Units(LlmCostDimensions.WebSearch, usage.WebSearchRequests, rates.WebSearchPerRequest.Nanos);
            Units(LlmCostDimensions.Image, usage.Images, rates.ImagePerUnit.Nanos);
            Units(LlmCostDimensions.RequestFee, 1, rates.RequestFee.Nanos);

            var factor = (100m + markupPercent) / 100m * multiplier * tierMultiplier;
            var nanosTotal = decimal.Ceiling(sum * (100m + markupPercent) / 100m * multiplier * tierMultiplier);
            if (nanosTotal > long.MaxValue || nanosTotal < long.MinValue)
            {
                return false;
            }

            breakdown = new LlmCostBreakdown(lines, new Money((long)nanosTotal), factor, tier, longContext);
            return true;
        }
        catch (OverflowException)
        {
            return false;
        }
    }
}
