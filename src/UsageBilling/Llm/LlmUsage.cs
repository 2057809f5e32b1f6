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
    public static Money Compute(ModelPrice price, LlmUsage usage, decimal markupPercent = 0m, decimal multiplier = 1m)
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

        var tokenNanos = (usage.InputTokens * (decimal)price.InputPerMillion.Nanos
            + usage.CachedInputTokens * (decimal)price.CachedInputPerMillion.Nanos
            + usage.OutputTokens * (decimal)price.OutputPerMillion.Nanos) / TokensPerMillion;
        if (multiplier < 0m)
        {
            throw new ArgumentOutOfRangeException(nameof(multiplier), multiplier, "The multiplier cannot be negative.");
        }

        var nanos = (tokenNanos + price.RequestFee.Nanos) * (100m + markupPercent) / 100m * multiplier;
        return new Money((long)decimal.Ceiling(nanos));
    }
}
