using System.Text.Json;

namespace LlmGateway;

/// <summary>Tool calls of the simulated model: OpenAI chat <c>tool_calls</c> and Anthropic <c>tool_use</c>, as JSON or streamed, with usage.</summary>
internal sealed partial class SimulatedModel
{
    private async Task ChatToolCallAsync(HttpContext context, JsonElement request, SimulatedToolCall tool, string id, long created, string model, object usage)
    {
        if (!IsStream(request))
        {
            var call = new { id = tool.Id, type = "function", function = new { name = tool.Name, arguments = tool.Arguments } };
            await context.Response.WriteAsJsonAsync(new
            {
                id, @object = "chat.completion", created, model,
                choices = new[] { new { index = 0, message = new { role = "assistant", content = (string?)null, tool_calls = new[] { call } }, finish_reason = "tool_calls" } },
                usage,
            }, Json, context.RequestAborted);
            return;
        }

        await StartStreamAsync(context);
        await SendAsync(context, new
        {
            id, @object = "chat.completion.chunk", created, model,
            choices = new[] { new { index = 0, delta = new { role = "assistant", tool_calls = new[] { new { index = 0, id = tool.Id, type = "function", function = new { name = tool.Name, arguments = "" } } } }, finish_reason = (string?)null } },
        });
        foreach (var part in tool.Arguments.Chunk(8).Select(c => new string(c)))
        {
            await Task.Delay(options.ChunkDelayMs, context.RequestAborted);
            await SendAsync(context, new
            {
                id, @object = "chat.completion.chunk", created, model,
                choices = new[] { new { index = 0, delta = new { tool_calls = new[] { new { index = 0, function = new { arguments = part } } } }, finish_reason = (string?)null } },
            });
        }

        await SendAsync(context, new { id, @object = "chat.completion.chunk", created, model, choices = new[] { new { index = 0, delta = new { }, finish_reason = "tool_calls" } } });
        if (request.TryGetProperty("stream_options", out var streamOptions) && streamOptions.ValueKind == JsonValueKind.Object
            && streamOptions.TryGetProperty("include_usage", out var include) && include.ValueKind == JsonValueKind.True)
        {
            await SendAsync(context, new { id, @object = "chat.completion.chunk", created, model, choices = Array.Empty<object>(), usage });
        }

        await context.Response.WriteAsync("data: [DONE]\n\n", context.RequestAborted);
        await context.Response.Body.FlushAsync(context.RequestAborted);
    }

    private async Task AnthropicToolUseAsync(HttpContext context, JsonElement request, SimulatedToolCall tool, string id, string model, int inputTokens, int outputTokens)
    {
        var toolId = "toolu_" + tool.Id["call_".Length..];
        if (!IsStream(request))
        {
            await context.Response.WriteAsJsonAsync(new
            {
                id, type = "message", role = "assistant", model,
                content = new[] { new { type = "tool_use", id = toolId, name = tool.Name, input = tool.Input } },
                stop_reason = "tool_use",
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
        await SendAsync(context, new { type = "content_block_start", index = 0, content_block = new { type = "tool_use", id = toolId, name = tool.Name, input = new { } } }, "content_block_start");
        foreach (var part in tool.Arguments.Chunk(8).Select(c => new string(c)))
        {
            await Task.Delay(options.ChunkDelayMs, context.RequestAborted);
            await SendAsync(context, new { type = "content_block_delta", index = 0, delta = new { type = "input_json_delta", partial_json = part } }, "content_block_delta");
        }

        await SendAsync(context, new { type = "content_block_stop", index = 0 }, "content_block_stop");
        await SendAsync(context, new { type = "message_delta", delta = new { stop_reason = "tool_use" }, usage = new { output_tokens = outputTokens } }, "message_delta");
        await SendAsync(context, new { type = "message_stop" }, "message_stop");
    }
}
