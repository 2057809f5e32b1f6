namespace UsageBilling;

/// <summary>
/// Token counts of one LLM call, normalised across providers: <see cref="InputTokens"/> excludes cached input and
/// cache writes (OpenAI's <c>prompt_tokens</c> minus <c>cached_tokens</c>; Anthropic's <c>input_tokens</c>).
/// </summary>
/// <param name="InputTokens">Input tokens neither served from nor written to a cache (audio input included).</param>
/// <param name="CachedInputTokens">Input tokens served from cache.</param>
/// <param name="OutputTokens">Output tokens (reasoning and audio output included).</param>
public readonly record struct LlmUsage(long InputTokens, long CachedInputTokens, long OutputTokens)
{
    /// <summary>Input tokens written to a cache that lives 5 minutes (Anthropic <c>ephemeral_5m_input_tokens</c>).</summary>
    public long CacheWrite5mTokens { get; init; }

    /// <summary>Input tokens written to a cache that lives 1 hour (Anthropic <c>ephemeral_1h_input_tokens</c>).</summary>
    public long CacheWrite1hTokens { get; init; }

    /// <summary>The part of <see cref="OutputTokens"/> that is reasoning (OpenAI <c>reasoning_tokens</c>).</summary>
    public long ReasoningTokens { get; init; }

    /// <summary>The part of <see cref="InputTokens"/> that is audio.</summary>
    public long AudioInputTokens { get; init; }

    /// <summary>The part of <see cref="OutputTokens"/> that is audio.</summary>
    public long AudioOutputTokens { get; init; }

    /// <summary>Web-search requests the model made (Anthropic <c>server_tool_use.web_search_requests</c>, OpenAI <c>web_search_call</c> items).</summary>
    public long WebSearchRequests { get; init; }

    /// <summary>Images the model generated (OpenAI <c>image_generation_call</c> items).</summary>
    public long Images { get; init; }

    /// <summary>The service tier the call ran in (<c>batch</c>, <c>flex</c>, <c>priority</c>, ...), lower case; <see langword="null"/>: standard.</summary>
    public string? ServiceTier { get; init; }

    /// <summary>All input tokens: uncached, cached and written to a cache.</summary>
    public long TotalInputTokens => InputTokens + CachedInputTokens + CacheWrite5mTokens + CacheWrite1hTokens;

    /// <summary>Input tokens written to a cache, whatever its lifetime.</summary>
    public long CacheWriteTokens => CacheWrite5mTokens + CacheWrite1hTokens;
}
