namespace UsageBilling;

/// <summary>
/// Token counts of one LLM call, normalised across providers: <see cref="InputTokens"/> excludes cached input
/// (OpenAI's <c>prompt_tokens</c> minus <c>cached_tokens</c>; Anthropic's <c>input_tokens</c> plus cache writes).
/// </summary>
/// <param name="InputTokens">Input tokens not served from cache.</param>
/// <param name="CachedInputTokens">Input tokens served from cache.</param>
/// <param name="OutputTokens">Output tokens (reasoning tokens included).</param>
public readonly record struct LlmUsage(long InputTokens, long CachedInputTokens, long OutputTokens)
{
    /// <summary>All input tokens, cached or not.</summary>
    public long TotalInputTokens => InputTokens + CachedInputTokens;
}

/// <summary>Computes what an LLM call costs.</summary>
public static class LlmCost
{
    private const decimal TokensPerMillion = 1_000_000m;

    /// <summary>
    /// <c>(input × input price + cached × cached price + output × output price) / 1M + fee</c>, times
    /// <c>(100 + markup) / 100</c>, times the request's <paramref name="multiplier"/>, rounded up to the next nano-unit
    /// so that no call that used tokens is free. Computed in <see cref="decimal"/> (base 10, 28 digits) — never binary
    /// floating point.
    /// </summary>
    /// <exception cref="OverflowException">The cost does not fit in <see cref="Money"/>.</exception>
    public static Money Compute(ModelPrice price, LlmUsage usage, decimal markupPercent = 0m, decimal multiplier = 1m)
        => TryCompute(price, usage, out var cost, markupPercent, multiplier)
            ? cost
            : throw new OverflowException($"The cost of {usage.InputTokens} input, {usage.CachedInputTokens} cached and {usage.OutputTokens} output tokens of '{price.Model}' is too large for an amount of money.");

    /// <summary>Like <see cref="Compute"/>, but returns <see langword="false"/> instead of throwing when the cost does not fit in <see cref="Money"/>.</summary>
    internal static bool TryCompute(ModelPrice price, LlmUsage usage, out Money cost, decimal markupPercent = 0m, decimal multiplier = 1m)
    {
        ArgumentNullException.ThrowIfNull(price);
        if (usage.InputTokens < 0 || usage.CachedInputTokens < 0 || usage.OutputTokens < 0)
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

        cost = default;
        decimal nanos;
        try
        {
            var tokenNanos = (usage.InputTokens * (decimal)price.InputPerMillion.Nanos
                + usage.CachedInputTokens * (decimal)price.CachedInputPerMillion.Nanos
                + usage.OutputTokens * (decimal)price.OutputPerMillion.Nanos) / TokensPerMillion;
            nanos = decimal.Ceiling((tokenNanos + price.RequestFee.Nanos) * (100m + markupPercent) / 100m * multiplier);
        }
        catch (OverflowException)
        {
            return false;
        }

        if (nanos > long.MaxValue || nanos < long.MinValue)
        {
            return false;
        }

        cost = new Money((long)nanos);
        return true;
    }
}
