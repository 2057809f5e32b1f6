using System.Text.Json;

namespace LlmGateway;

/// <summary>
/// The tool call the simulated model makes when a request offers tools: the first tool, with arguments derived from
/// the prompt. It calls a tool only while the conversation does not already end with a tool result, and never when
/// <c>tool_choice</c> is <c>none</c>.
/// </summary>
internal sealed record SimulatedToolCall(string Id, string Name, string Arguments)
{
    /// <summary>The call to make for <paramref name="request"/>, or <see langword="null"/> to answer with text.</summary>
    /// <param name="request">The request body.</param>
    /// <param name="prompt">The last user text.</param>
    /// <param name="conversation">The messages (chat, Anthropic) or input items (Responses).</param>
    public static SimulatedToolCall? For(JsonElement request, string prompt, JsonElement? conversation)
    {
        if (!request.TryGetProperty("tools", out var tools) || tools.ValueKind != JsonValueKind.Array || tools.GetArrayLength() == 0
            || request.TryGetProperty("tool_choice", out var choice) && choice.ValueKind == JsonValueKind.String && choice.GetString() == "none"
            || conversation is { ValueKind: JsonValueKind.Array } items && items.GetArrayLength() > 0 && EndsWithToolResult(items[items.GetArrayLength() - 1]))
        {
            return null;
        }

        // Chat: {"type":"function","function":{"name"}}; Responses and Anthropic: {"name"}.
        var tool = tools[0];
        var name = tool.TryGetProperty("function", out var function) && function.ValueKind == JsonValueKind.Object && function.TryGetProperty("name", out var n)
            ? n.GetString()
            : tool.TryGetProperty("name", out var flat) && flat.ValueKind == JsonValueKind.String ? flat.GetString() : null;
        if (string.IsNullOrEmpty(name))
        {
            return null;
        }

        var query = prompt.Length > 40 ? prompt[..40] : prompt;
        return new SimulatedToolCall($"call_sim_{Guid.NewGuid():N}"[..24], name, JsonSerializer.Serialize(new { query }));
    }

    /// <summary>The arguments as a JSON object (Anthropic's <c>input</c>).</summary>
    public JsonElement Input => JsonDocument.Parse(Arguments).RootElement.Clone();

    private static bool EndsWithToolResult(JsonElement last)
    {
        if (last.ValueKind != JsonValueKind.Object)
        {
            return false;
        }

        // Chat: a "tool" message; Responses: a function_call_output item; Anthropic: a user message with a tool_result block.
        if (last.TryGetProperty("role", out var role) && role.ValueKind == JsonValueKind.String && role.GetString() == "tool"
            || last.TryGetProperty("type", out var type) && type.ValueKind == JsonValueKind.String && type.GetString() == "function_call_output")
        {
            return true;
        }

        return last.TryGetProperty("content", out var content) && content.ValueKind == JsonValueKind.Array
            && content.EnumerateArray().Any(b => b.ValueKind == JsonValueKind.Object && b.TryGetProperty("type", out var t) && t.ValueKind == JsonValueKind.String && t.GetString() == "tool_result");
    }
}
