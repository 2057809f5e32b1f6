using System.Text.Json;

namespace UsageBilling;

/// <summary>What pricing needs from an LLM request body.</summary>
internal sealed record LlmRequest(LlmApiFormat Format, string Model, bool Stream, long? MaxOutputTokens, IReadOnlyList<string> TextSegments, int MessageCount, string? ServiceTier = null);

/// <summary>Parses OpenAI chat-completions, OpenAI Responses and Anthropic messages request bodies.</summary>
internal static class LlmRequestParser
{
    /// <summary>The largest output-token maximum a request may ask for; larger values are refused with 400 before any arithmetic.</summary>
    internal const long MaxOutputTokensLimit = 10_000_000;

    /// <summary>
    /// Keys whose string values are not text the model reads (ids, roles, image data), as UTF-8: a property's name is
    /// compared where it lies in the document (<see cref="JsonProperty.NameEquals(ReadOnlySpan{byte})"/>), not made into a string.
    /// </summary>
    private static readonly byte[][] NonTextKeys = Array.ConvertAll(
        ["type", "role", "id", "tool_call_id", "tool_use_id", "call_id", "image_url", "url", "media_type", "data", "detail", "cache_control", "file_id", "status"],
        static key => System.Text.Encoding.UTF8.GetBytes(key));

    public static LlmApiFormat ResolveFormat(LlmApiFormat format, string path)
    {
        if (format != LlmApiFormat.Auto)
        {
            return format;
        }

        var trimmed = path.TrimEnd('/');
        if (trimmed.EndsWith("/messages", StringComparison.OrdinalIgnoreCase))
        {
            return LlmApiFormat.AnthropicMessages;
        }

        if (trimmed.EndsWith("/embeddings", StringComparison.OrdinalIgnoreCase))
        {
            return LlmApiFormat.OpenAIEmbeddings;
        }

        return trimmed.EndsWith("/responses", StringComparison.OrdinalIgnoreCase) ? LlmApiFormat.OpenAIResponses : LlmApiFormat.OpenAIChatCompletions;
    }

    /// <summary>Parses the body; returns an error message (for a 400) instead of throwing.</summary>
    public static LlmRequest? TryParse(ReadOnlyMemory<byte> body, LlmApiFormat format, out string? error)
    {
        error = null;
        JsonDocument document;
        try
        {
            // Parsed in place: nothing read from the document outlives it (strings are copied out).
            document = JsonDocument.Parse(body, new JsonDocumentOptions { MaxDepth = 128 });
        }
        catch (JsonException)
        {
            error = "The request body is not valid JSON.";
            return null;
        }

        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                error = "The request body must be a JSON object.";
                return null;
            }

            if (!root.TryGetProperty("model", out var modelElement) || modelElement.ValueKind != JsonValueKind.String)
            {
                error = "The request must name a model.";
                return null;
            }

            // The name reaches usage records, logs and metric tags: normalized once, here.
            var model = ClientStrings.Normalize(ClientStrings.Read(modelElement));
            if (string.IsNullOrWhiteSpace(model))
            {
                error = "The request must name a model.";
                return null;
            }

            var stream = root.TryGetProperty("stream", out var streamElement) && streamElement.ValueKind == JsonValueKind.True;
            long? maxOutput = null;
            foreach (var name in format switch
            {
                LlmApiFormat.OpenAIResponses => new[] { "max_output_tokens" },
                LlmApiFormat.AnthropicMessages => ["max_tokens"],
                LlmApiFormat.OpenAIEmbeddings => [],
                _ => ["max_completion_tokens", "max_tokens"],
            })
            {
                if (root.TryGetProperty(name, out var max) && max.ValueKind != JsonValueKind.Null)
                {
                    if (max.ValueKind != JsonValueKind.Number || !max.TryGetInt64(out var value) || value is < 1 or > MaxOutputTokensLimit)
                    {
                        error = $"'{name}' must be an integer between 1 and {MaxOutputTokensLimit}.";
                        return null;
                    }

                    maxOutput = value;
                    break;
                }
            }

            var segments = new List<string>();
            var messages = 0;
            switch (format)
            {
                case LlmApiFormat.OpenAIEmbeddings:
                    if (!root.TryGetProperty("input", out var embedded) || embedded.ValueKind is not (JsonValueKind.String or JsonValueKind.Array))
                    {
                        error = "The request must have 'input' (a string or an array).";
                        return null;
                    }

                    // Embeddings produce no output tokens: nothing is held for output.
                    CollectText(embedded, segments);
                    maxOutput = 0;
                    messages = embedded.ValueKind == JsonValueKind.Array ? embedded.GetArrayLength() : 1;
                    break;
                case LlmApiFormat.OpenAIResponses:
                    if (!root.TryGetProperty("input", out var input) || input.ValueKind is not (JsonValueKind.String or JsonValueKind.Array))
                    {
                        error = "The request must have 'input' (a string or an array).";
                        return null;
                    }

                    AddText(root, "instructions", segments);
                    CollectText(input, segments);
                    messages = input.ValueKind == JsonValueKind.Array ? input.GetArrayLength() : 1;
                    break;
                default:
                    if (!root.TryGetProperty("messages", out var list) || list.ValueKind != JsonValueKind.Array)
                    {
                        error = "The request must have 'messages' (an array).";
                        return null;
                    }

                    if (format == LlmApiFormat.AnthropicMessages && root.TryGetProperty("system", out var system))
                    {
                        CollectText(system, segments);
                        messages++;
                    }

                    foreach (var message in list.EnumerateArray())
                    {
                        if (message.ValueKind != JsonValueKind.Object)
                        {
                            error = "Each message must be a JSON object.";
                            return null;
                        }

                        CollectText(message, segments);
                        messages++;
                    }

                    if (format == LlmApiFormat.AnthropicMessages && maxOutput is null)
                    {
                        error = "'max_tokens' is required.";
                        return null;
                    }

                    break;
            }

            if (root.TryGetProperty("tools", out var tools) && tools.ValueKind == JsonValueKind.Array)
            {
                // Tool definitions reach the model as their JSON schema text.
                segments.Add(tools.GetRawText());
            }

            var tier = root.TryGetProperty("service_tier", out var tierElement) && tierElement.ValueKind == JsonValueKind.String
                ? ServiceTiers.Normalize(tierElement.GetString())
                : null;
            return new LlmRequest(format, model, stream, maxOutput, segments, messages, tier);
        }
    }

    private static void AddText(JsonElement root, string name, List<string> segments)
    {
        if (root.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String)
        {
            segments.Add(ClientStrings.Read(value));
        }
    }

    /// <summary>Collects every string the model reads: message text, tool call arguments, tool results.</summary>
    internal static void CollectText(JsonElement element, List<string> segments)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.String:
                segments.Add(ClientStrings.Read(element));
                break;
            case JsonValueKind.Array:
                foreach (var item in element.EnumerateArray())
                {
                    CollectText(item, segments);
                }

                break;
            case JsonValueKind.Object:
                foreach (var property in element.EnumerateObject())
                {
                    if (IsNonTextKey(property))
                    {
                        continue;
                    }

                    if (property.Value.ValueKind == JsonValueKind.Object && property.NameEquals("input"u8))
                    {
                        // Anthropic tool_use input: the model produced (and now reads) it as JSON.
                        segments.Add(property.Value.GetRawText());
                        continue;
                    }

                    CollectText(property.Value, segments);
                }

                break;
        }
    }

    private static bool IsNonTextKey(JsonProperty property)
    {
        foreach (var key in NonTextKeys)
        {
            if (property.NameEquals(key))
            {
                return true;
            }
        }

        return false;
    }
}
