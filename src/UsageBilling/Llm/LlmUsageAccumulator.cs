using System.Text;
using System.Text.Json;

namespace UsageBilling;

/// <summary>
/// Collects usage and output text from LLM response objects: a whole JSON response or each server-sent event of a
/// stream, in the OpenAI chat-completions, OpenAI Responses and Anthropic messages formats.
/// </summary>
internal sealed class LlmUsageAccumulator
{
    private const int MaxOutputChars = 4 * 1024 * 1024;
    private readonly LlmApiFormat _format;
    private readonly StringBuilder _output = new();
    private long? _input;
    private long? _cached;
    private long? _outputTokens;
    private long? _cacheWrite5m;
    private long? _cacheWrite1h;
    private long? _reasoning;
    private long? _audioInput;
    private long? _audioOutput;
    private long? _webSearches;
    private long? _images;
    private string? _serviceTier;

    public LlmUsageAccumulator(LlmApiFormat format) => _format = format;

    /// <summary>Whether the upstream reported any usage.</summary>
    public bool HasUsage => _input is not null || _outputTokens is not null;

    public long? ReportedInputTokens => _input;

    public long? ReportedCachedInputTokens => _cached;

    public long? ReportedOutputTokens => _outputTokens;

    /// <summary>
    /// The reported usage with the given input and output counts (which may be estimates) and every other dimension
    /// as reported: cache writes, reasoning and audio tokens, web searches, images, service tier.
    /// </summary>
    public LlmUsage Usage(long inputTokens, long outputTokens) => new(inputTokens, _cached ?? 0, outputTokens)
    {
        CacheWrite5mTokens = _cacheWrite5m ?? 0,
        CacheWrite1hTokens = _cacheWrite1h ?? 0,
        ReasoningTokens = _reasoning ?? 0,
        AudioInputTokens = _audioInput ?? 0,
        AudioOutputTokens = _audioOutput ?? 0,
        WebSearchRequests = _webSearches ?? 0,
        Images = _images ?? 0,
        ServiceTier = _serviceTier,
    };

    /// <summary>The text the model produced so far (content and tool-call arguments), for estimating when no usage is reported.</summary>
    public string OutputText => _output.ToString();

    public void Observe(JsonElement root)
    {
        if (root.ValueKind != JsonValueKind.Object)
        {
            return;
        }

        var type = root.TryGetProperty("type", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString() : null;
        if (Object(root, "usage") is { } usage)
        {
            ReadUsage(usage);
        }

        ReadServiceTier(root);
        if (_format == LlmApiFormat.OpenAIResponses && type is null or "response")
        {
            CountServerToolCalls(root);
        }

        switch (type)
        {
            case "message_start" when Object(root, "message") is { } message && Object(message, "usage") is { } startUsage:
                ReadUsage(startUsage);
                break;
            case "response.completed" or "response.incomplete" or "response.failed" when Object(root, "response") is { } response:
                if (Object(response, "usage") is { } responseUsage)
                {
                    ReadUsage(responseUsage);
                }

                ReadServiceTier(response);
                CountServerToolCalls(response);
                break;
            case "response.output_text.delta" or "response.function_call_arguments.delta" or "response.refusal.delta":
                AppendString(root, "delta");
                return;
        }

        if (root.TryGetProperty("choices", out var choices) && choices.ValueKind == JsonValueKind.Array)
        {
            foreach (var choice in choices.EnumerateArray())
            {
                if (Object(choice, "delta") is { } delta)
                {
                    AppendMessage(delta);
                }

                if (Object(choice, "message") is { } message)
                {
                    AppendMessage(message);
                }
            }
        }

        if (Object(root, "delta") is { } anthropicDelta)
        {
            AppendString(anthropicDelta, "text");
            AppendString(anthropicDelta, "partial_json");
            AppendString(anthropicDelta, "thinking");
        }

        if (_format == LlmApiFormat.AnthropicMessages && root.TryGetProperty("content", out var blocks) && blocks.ValueKind == JsonValueKind.Array)
        {
            foreach (var block in blocks.EnumerateArray())
            {
                AppendString(block, "text");
                if (Object(block, "input") is { } toolInput)
                {
                    Append(toolInput.GetRawText());
                }
            }
        }

        if (type is null or "response" && root.TryGetProperty("output", out var outputItems) && outputItems.ValueKind == JsonValueKind.Array)
        {
            foreach (var item in outputItems.EnumerateArray())
            {
                AppendString(item, "arguments");
                if (item.TryGetProperty("content", out var parts) && parts.ValueKind == JsonValueKind.Array)
                {
                    foreach (var part in parts.EnumerateArray())
                    {
                        AppendString(part, "text");
                    }
                }
            }
        }
    }

    private void ReadUsage(JsonElement usage)
    {
        switch (_format)
        {
            case LlmApiFormat.AnthropicMessages:
                // input_tokens excludes cache reads and writes. message_delta repeats the cumulative counts: the last one wins.
                _input = Number(usage, "input_tokens") ?? _input;
                _cached = Number(usage, "cache_read_input_tokens") ?? _cached;
                _outputTokens = Number(usage, "output_tokens") ?? _outputTokens;
                if (Number(usage, "cache_creation_input_tokens") is { } written)
                {
                    // Split by lifetime when the breakdown is there; writes it does not account for are 5-minute ones (the default TTL).
                    var byTtl = Object(usage, "cache_creation");
                    var hour = byTtl is { } b ? Math.Min(Number(b, "ephemeral_1h_input_tokens") ?? 0, written) : 0;
                    _cacheWrite1h = hour;
                    _cacheWrite5m = written - hour;
                }
                else if (Object(usage, "cache_creation") is { } byTtlOnly)
                {
                    _cacheWrite5m = Number(byTtlOnly, "ephemeral_5m_input_tokens") ?? _cacheWrite5m;
                    _cacheWrite1h = Number(byTtlOnly, "ephemeral_1h_input_tokens") ?? _cacheWrite1h;
                }

                if (Object(usage, "server_tool_use") is { } serverTools)
                {
                    _webSearches = Number(serverTools, "web_search_requests") ?? _webSearches;
                }

                ReadServiceTier(usage);
                break;
            default:
                var prompt = Number(usage, "prompt_tokens") ?? Number(usage, "input_tokens");
                var details = Object(usage, "prompt_tokens_details") ?? Object(usage, "input_tokens_details");
                var cached = details is { } d ? Number(d, "cached_tokens") ?? 0 : 0;
                if (prompt is { } p)
                {
                    _cached = Math.Min(cached, p);
                    _input = p - _cached;
                    _audioInput = details is { } a ? Number(a, "audio_tokens") ?? _audioInput : _audioInput;
                }

                _outputTokens = Number(usage, "completion_tokens") ?? Number(usage, "output_tokens") ?? _outputTokens;
                if (_format == LlmApiFormat.OpenAIEmbeddings && prompt is not null)
                {
                    // Embeddings report prompt_tokens only: there is no output to count.
                    _outputTokens ??= 0;
                }

                if ((Object(usage, "completion_tokens_details") ?? Object(usage, "output_tokens_details")) is { } outputDetails)
                {
                    _reasoning = Number(outputDetails, "reasoning_tokens") ?? _reasoning;
                    _audioOutput = Number(outputDetails, "audio_tokens") ?? _audioOutput;
                }

                break;
        }
    }

    /// <summary>The tier the provider says it served: <c>service_tier</c> of an OpenAI response or chunk, or of Anthropic's usage.</summary>
    private void ReadServiceTier(JsonElement element)
    {
        if (element.TryGetProperty("service_tier", out var tier) && tier.ValueKind == JsonValueKind.String)
        {
            _serviceTier = ServiceTiers.Normalize(tier.GetString());
        }
    }

    /// <summary>Web searches and generated images of an OpenAI Responses response: its <c>web_search_call</c> and <c>image_generation_call</c> output items.</summary>
    private void CountServerToolCalls(JsonElement response)
    {
        if (!response.TryGetProperty("output", out var items) || items.ValueKind != JsonValueKind.Array)
        {
            return;
        }

        long searches = 0, images = 0;
        foreach (var item in items.EnumerateArray())
        {
            var kind = item.ValueKind == JsonValueKind.Object && item.TryGetProperty("type", out var k) && k.ValueKind == JsonValueKind.String ? k.GetString() : null;
            searches += kind == "web_search_call" ? 1 : 0;
            images += kind == "image_generation_call" ? 1 : 0;
        }

        _webSearches = searches;
        _images = images;
    }

    private void AppendMessage(JsonElement message)
    {
        AppendString(message, "content");
        AppendString(message, "refusal");
        if (message.TryGetProperty("tool_calls", out var calls) && calls.ValueKind == JsonValueKind.Array)
        {
            foreach (var call in calls.EnumerateArray())
            {
                if (Object(call, "function") is { } function)
                {
                    AppendString(function, "name");
                    AppendString(function, "arguments");
                }
            }
        }
    }

    private void AppendString(JsonElement element, string name)
    {
        if (element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String)
        {
            Append(value.GetString()!);
        }
    }

    private void Append(string text)
    {
        if (_output.Length + text.Length <= MaxOutputChars)
        {
            _output.Append(text);
        }
    }

    private static JsonElement? Object(JsonElement element, string name)
        => element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Object ? value : null;

    private static long? Number(JsonElement element, string name)
        => element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Number && value.TryGetInt64(out var n) && n >= 0 ? n : null;
}
