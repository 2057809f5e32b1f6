namespace UsageBilling;

/// <summary>The wire format of an LLM endpoint.</summary>
public enum LlmApiFormat
{
    /// <summary>Chosen from the request path: <c>.../chat/completions</c>, <c>.../responses</c>, <c>.../messages</c> or <c>.../embeddings</c>.</summary>
    Auto = 0,

    /// <summary>OpenAI chat completions (<c>POST /v1/chat/completions</c>).</summary>
    OpenAIChatCompletions = 1,

    /// <summary>OpenAI Responses API (<c>POST /v1/responses</c>).</summary>
    OpenAIResponses = 2,

    /// <summary>Anthropic messages (<c>POST /v1/messages</c>).</summary>
    AnthropicMessages = 3,

    /// <summary>OpenAI embeddings (<c>POST /v1/embeddings</c>): priced by input tokens only (<c>usage.prompt_tokens</c>).</summary>
    OpenAIEmbeddings = 4,
}

/// <summary>
/// Meters an endpoint by LLM tokens: the request is parsed and priced before it runs (input tokens counted, the
/// largest output it allows reserved), the response — JSON or a server-sent-event stream — is read as it passes for
/// the real usage, and the reservation is settled for it exactly once. <c>.MeterLlmUsage()</c> adds this attribute.
/// </summary>
[AttributeUsage(AttributeTargets.Class | AttributeTargets.Method, AllowMultiple = false, Inherited = true)]
public sealed class MeterLlmUsageAttribute : Attribute
{
    /// <summary>The endpoint's wire format. Default <see cref="LlmApiFormat.Auto"/>.</summary>
    public LlmApiFormat Format { get; set; }

    /// <summary>
    /// The provider the endpoint calls (for example <c>openai</c>). When set and the caller's account stored its own
    /// enabled key for it, the endpoint gets the key through <see cref="IProviderKeyFeature"/> and the call is charged
    /// <see cref="LlmOptions.OwnProviderKeyFee"/> only.
    /// </summary>
    public string? Provider { get; set; }
}
