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

    public LlmUsageAccumulator(LlmApiFormat format) => _format = format;

    /// <summary>Whether the upstream reported any usage.</summary>
    public bool HasUsage => _input is not null || _outputTokens is not null;

    public long? ReportedInputTokens => _input;

    public long? ReportedCachedInputTokens => _cached;

    public long? ReportedOutputTokens => _outputTokens;

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

        switch (type)
        {
            case "message_start" when Object(root, "message") is { } message && Object(message, "usage") is { } startUsage:
                ReadUsage(startUsage);
                break;
            case "response.completed" or "response.incomplete" or "response.failed" when Object(root, "response") is { } response && Object(response, "usage") is { } responseUsage:
                ReadUsage(responseUsage);
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
                // input_tokens excludes cache reads and writes; writes are billed as input here.
                var input = Number(usage, "input_tokens");
                var written = Number(usage, "cache_creation_input_tokens");
                if (input is not null || written is not null)
                {
                    _input = (input ?? 0) + (written ?? 0);
                }

                _cached = Number(usage, "cache_read_input_tokens") ?? _cached;
                // message_delta carries the cumulative output count: the last one is the total.
                _outputTokens = Number(usage, "output_tokens") ?? _outputTokens;
                break;
            default:
                var prompt = Number(usage, "prompt_tokens") ?? Number(usage, "input_tokens");
                var details = Object(usage, "prompt_tokens_details") ?? Object(usage, "input_tokens_details");
                var cached = details is { } d ? Number(d, "cached_tokens") ?? 0 : 0;
                if (prompt is { } p)
                {
                    _cached = Math.Min(cached, p);
                    _input = p - _cached;
                }

                _outputTokens = Number(usage, "completion_tokens") ?? Number(usage, "output_tokens") ?? _outputTokens;
                break;
        }
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
