using System.Text;
using System.Text.Json;
using Microsoft.ML.Tokenizers;

namespace LlmGateway;

/// <summary>
/// A deterministic stand-in for a real model so that the gateway runs offline: it answers OpenAI chat-completions,
/// Responses and embeddings and Anthropic messages (and count_tokens) requests, as JSON or as real server-sent-event
/// streams with usage, with a configurable delay between chunks, and calls the first tool when tools are offered.
/// Token counts come from the o200k_base tokenizer, like a real model's would from its own.
/// </summary>
internal sealed partial class SimulatedModel(SimulatorOptions options)
{
    private static readonly Tokenizer Tokenizer = TiktokenTokenizer.CreateForEncoding("o200k_base");
    private static readonly string[] Vocabulary =
    [
        "metered", "tokens", "flow", "through", "the", "gateway", "and", "every", "call", "is", "billed", "exactly", "once",
        "credits", "settle", "after", "streams", "finish", "quietly", "while", "limits", "hold", "steady", "under", "load",
    ];

    private static readonly JsonSerializerOptions Json = new() { DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull };

    public async Task ChatCompletionsAsync(HttpContext context, JsonElement request)
    {
        var model = String(request.GetProperty("model"));
        var maxTokens = MaxTokens(request, "max_completion_tokens", "max_tokens");
        var messages = request.GetProperty("messages");
        var promptTokens = CountPrompt(messages, null);
        var prompt = LastUserText(messages);
        var tool = SimulatedToolCall.For(request, prompt, messages);
        var words = tool is null ? Reply(prompt, maxTokens) : [];
        var completionTokens = Tokenizer.CountTokens(string.Concat(words)) + (tool is null ? 0 : Tokenizer.CountTokens(tool.Name + tool.Arguments));
        var id = $"chatcmpl-sim-{Guid.NewGuid():N}";
        var created = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var usage = new { prompt_tokens = promptTokens, completion_tokens = completionTokens, total_tokens = promptTokens + completionTokens, prompt_tokens_details = new { cached_tokens = 0 } };

        if (tool is not null)
        {
            await ChatToolCallAsync(context, request, tool, id, created, model, usage);
            return;
        }

        if (!IsStream(request))
        {
            await context.Response.WriteAsJsonAsync(new
            {
                id, @object = "chat.completion", created, model,
                choices = new[] { new { index = 0, message = new { role = "assistant", content = string.Concat(words) }, finish_reason = "stop" } },
                usage,
            }, Json, context.RequestAborted);
            return;
        }

        var includeUsage = request.TryGetProperty("stream_options", out var streamOptions) && streamOptions.ValueKind == JsonValueKind.Object
            && streamOptions.TryGetProperty("include_usage", out var include) && include.ValueKind == JsonValueKind.True;
        await StartStreamAsync(context);
        await SendAsync(context, new { id, @object = "chat.completion.chunk", created, model, choices = new[] { new { index = 0, delta = new { role = "assistant", content = "" }, finish_reason = (string?)null } } });
        foreach (var word in words)
        {
            await Task.Delay(options.ChunkDelayMs, context.RequestAborted);
            await SendAsync(context, new { id, @object = "chat.completion.chunk", created, model, choices = new[] { new { index = 0, delta = new { content = word }, finish_reason = (string?)null } } });
        }

        await SendAsync(context, new { id, @object = "chat.completion.chunk", created, model, choices = new[] { new { index = 0, delta = new { }, finish_reason = "stop" } } });
        if (includeUsage)
        {
            await SendAsync(context, new { id, @object = "chat.completion.chunk", created, model, choices = Array.Empty<object>(), usage });
        }

        await context.Response.WriteAsync("data: [DONE]\n\n", context.RequestAborted);
        await context.Response.Body.FlushAsync(context.RequestAborted);
    }

    public async Task MessagesAsync(HttpContext context, JsonElement request)
    {
        var model = String(request.GetProperty("model"));
        var maxTokens = MaxTokens(request, "max_tokens");
        var messages = request.GetProperty("messages");
        var inputTokens = CountPrompt(messages, request.TryGetProperty("system", out var system) ? system : null);
        var prompt = LastUserText(messages);
        var tool = SimulatedToolCall.For(request, prompt, messages);
        var words = tool is null ? Reply(prompt, maxTokens) : [];
        var outputTokens = Tokenizer.CountTokens(string.Concat(words)) + (tool is null ? 0 : Tokenizer.CountTokens(tool.Name + tool.Arguments));
        var id = $"msg_sim_{Guid.NewGuid():N}";
        if (tool is not null)
        {
            await AnthropicToolUseAsync(context, request, tool, id, model, inputTokens, outputTokens);
            return;
        }

        if (!IsStream(request))
        {
            await context.Response.WriteAsJsonAsync(new
            {
                id, type = "message", role = "assistant", model,
                content = new[] { new { type = "text", text = string.Concat(words) } },
                stop_reason = "end_turn",
                usage = new { input_tokens = inputTokens, output_tokens = outputTokens, cache_read_input_tokens = 0, cache_creation_input_tokens = 0 },
            }, Json, context.RequestAborted);
            return;
        }

        await StartStreamAsync(context);
        await SendAsync(context, new
        {
            type = "message_start",
            message = new { id, type = "message", role = "assistant", model, content = Array.Empty<object>(), usage = new { input_tokens = inputTokens, output_tokens = 1 } },
        }, "message_start");
        await SendAsync(context, new { type = "content_block_start", index = 0, content_block = new { type = "text", text = "" } }, "content_block_start");
        foreach (var word in words)
        {
            await Task.Delay(options.ChunkDelayMs, context.RequestAborted);
            await SendAsync(context, new { type = "content_block_delta", index = 0, delta = new { type = "text_delta", text = word } }, "content_block_delta");
        }

        await SendAsync(context, new { type = "content_block_stop", index = 0 }, "content_block_stop");
        await SendAsync(context, new { type = "message_delta", delta = new { stop_reason = "end_turn" }, usage = new { output_tokens = outputTokens } }, "message_delta");
        await SendAsync(context, new { type = "message_stop" }, "message_stop");
    }

    /// <summary>Words of the reply: deterministic for a prompt, cut so their tokens never exceed <paramref name="maxTokens"/>.</summary>
    internal List<string> Reply(string prompt, long maxTokens)
    {
        var seed = 17;
        foreach (var c in prompt)
        {
            seed = unchecked(seed * 31 + c);
        }

        var words = new List<string>();
        var text = new StringBuilder();
        for (var i = 0; i < options.ReplyWords; i++)
        {
            var word = (i == 0 ? "" : " ") + Vocabulary[(int)((uint)unchecked(seed + i * 7919) % Vocabulary.Length)];
            if (Tokenizer.CountTokens(text + word) > maxTokens)
            {
                break;
            }

            text.Append(word);
            words.Add(word);
        }

        return words;
    }

    internal static int CountPrompt(JsonElement messages, JsonElement? system)
    {
        var count = 3;
        if (system is { ValueKind: JsonValueKind.String } s)
        {
            count += 3 + CountTokens(String(s));
        }

        foreach (var message in messages.EnumerateArray())
        {
            count += 3 + CountTokens(Text(message));
        }

        return count;
    }

    internal static string LastUserText(JsonElement messages)
        => messages.EnumerateArray().Where(m => m.ValueKind == JsonValueKind.Object && m.TryGetProperty("role", out var r) && String(r) == "user")
            .Select(Text).LastOrDefault() ?? "";

    /// <summary>A message's text: its string content, or the text parts of its content array; nothing for a missing or odd content.</summary>
    private static string Text(JsonElement message)
    {
        if (message.ValueKind != JsonValueKind.Object || !message.TryGetProperty("content", out var content))
        {
            return "";
        }

        return content.ValueKind switch
        {
            JsonValueKind.String => String(content),
            JsonValueKind.Array => string.Concat(content.EnumerateArray().Select(p => p.ValueKind == JsonValueKind.Object && p.TryGetProperty("text", out var t) ? String(t) : "")),
            _ => "",
        };
    }

    /// <summary>A JSON string's value; empty for anything else, and for a string that is not valid UTF-16 (a lone surrogate).</summary>
    private static string String(JsonElement value)
    {
        if (value.ValueKind != JsonValueKind.String)
        {
            return "";
        }

        try
        {
            return value.GetString()!;
        }
        catch (InvalidOperationException)
        {
            return "";
        }
    }

    /// <summary>Tokens of <paramref name="text"/>; a very long text is counted by its UTF-8 length, as BPE on one long run is slow.</summary>
    internal static int CountTokens(string text)
        => text.Length > 64 * 1024 ? Encoding.UTF8.GetByteCount(text) : Tokenizer.CountTokens(text);

    private static long MaxTokens(JsonElement request, params string[] names)
    {
        foreach (var name in names)
        {
            if (request.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Number && value.TryGetInt64(out var max))
            {
                return max;
            }
        }

        return long.MaxValue;
    }

    private static bool IsStream(JsonElement request) => request.TryGetProperty("stream", out var stream) && stream.ValueKind == JsonValueKind.True;

    private static async Task StartStreamAsync(HttpContext context)
    {
        context.Response.ContentType = "text/event-stream";
        context.Response.Headers.CacheControl = "no-cache";
        await context.Response.StartAsync(context.RequestAborted);
    }

    private static async Task SendAsync(HttpContext context, object data, string? eventName = null)
    {
        var payload = (eventName is null ? "" : $"event: {eventName}\n") + "data: " + JsonSerializer.Serialize(data, Json) + "\n\n";
        await context.Response.WriteAsync(payload, context.RequestAborted);
        await context.Response.Body.FlushAsync(context.RequestAborted);
    }
}
