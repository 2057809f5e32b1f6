namespace LlmGateway;

/// <summary>Where the gateway sends calls. With no upstream base URL it answers with the built-in simulated model.</summary>
public sealed class GatewayOptions
{
    public string AdminToken { get; set; } = "";

    /// <summary>Any OpenAI-compatible API (OpenAI, Ollama, vLLM, LiteLLM), for example <c>http://localhost:11434/v1</c>.</summary>
    public UpstreamOptions Upstream { get; } = new();

    /// <summary>An Anthropic-compatible messages API for <c>POST /v1/messages</c>.</summary>
    public UpstreamOptions AnthropicUpstream { get; } = new();

    public SimulatorOptions Simulator { get; } = new();
}

public sealed class UpstreamOptions
{
    public string BaseUrl { get; set; } = "";

    public string ApiKey { get; set; } = "";

    public bool IsConfigured => !string.IsNullOrWhiteSpace(BaseUrl);
}

public sealed class SimulatorOptions
{
    /// <summary>How many words a simulated reply has at most (max_tokens may cut it shorter).</summary>
    public int ReplyWords { get; set; } = 40;

    /// <summary>The pause between streamed chunks.</summary>
    public int ChunkDelayMs { get; set; } = 20;
}
