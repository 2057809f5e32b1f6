using System.Text.Json;

namespace LlmGateway;

/// <summary>The simulated model's OpenAI Responses API: a message or a function call, as JSON or as the Responses event stream.</summary>
internal sealed partial class SimulatedModel
{
    public async Task ResponsesAsync(HttpContext context, JsonElement request)
    {
        var model = String(request.GetProperty("model"));
        var maxTokens = MaxTokens(request, "max_output_tokens");
        var input = request.GetProperty("input");
        var items = input.ValueKind == JsonValueKind.Array ? input : (JsonElement?)null;
        var prompt = input.ValueKind == JsonValueKind.String ? String(input) : LastUserText(input);
        var inputTokens = (input.ValueKind == JsonValueKind.String ? 3 + CountTokens(prompt) : CountPrompt(input, null))
            + (request.TryGetProperty("instructions", out var instructions) && instructions.ValueKind == JsonValueKind.String ? CountTokens(String(instructions)) : 0);
        var tool = SimulatedToolCall.For(request, prompt, items);
        var words = tool is null ? Reply(prompt, maxTokens) : [];
        var text = string.Concat(words);
        var outputTokens = Tokenizer.CountTokens(text) + (tool is null ? 0 : Tokenizer.CountTokens(tool.Name + tool.Arguments));
        var id = $"resp_sim_{Guid.NewGuid():N}";
        var messageId = $"msg_sim_{Guid.NewGuid():N}";
        var created = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        object item = tool is null
            ? new { type = "message", id = messageId, status = "completed", role = "assistant", content = new[] { new { type = "output_text", text, annotations = Array.Empty<object>() } } }
            : new { type = "function_call", id = $"fc_{tool.Id}", status = "completed", call_id = tool.Id, name = tool.Name, arguments = tool.Arguments };
        var usage = new
        {
            input_tokens = inputTokens, input_tokens_details = new { cached_tokens = 0 },
            output_tokens = outputTokens, output_tokens_details = new { reasoning_tokens = 0 }, total_tokens = inputTokens + outputTokens,
        };
        object Response(string status, object[] output, object? usageOrNull) => new { id, @object = "response", created_at = created, status, model, output, usage = usageOrNull };

        if (!IsStream(request))
        {
            await context.Response.WriteAsJsonAsync(Response("completed", [item], usage), Json, context.RequestAborted);
            return;
        }

        await StartStreamAsync(context);
        var sequence = 0;
        await SendAsync(context, new { type = "response.created", sequence_number = sequence++, response = Response("in_progress", [], null) }, "response.created");
        if (tool is null)
        {
            await SendAsync(context, new { type = "response.output_item.added", sequence_number = sequence++, output_index = 0, item = new { type = "message", id = messageId, status = "in_progress", role = "assistant", content = Array.Empty<object>() } }, "response.output_item.added");
            foreach (var word in words)
            {
                await Task.Delay(options.ChunkDelayMs, context.RequestAborted);
                await SendAsync(context, new { type = "response.output_text.delta", sequence_number = sequence++, item_id = messageId, output_index = 0, content_index = 0, delta = word }, "response.output_text.delta");
            }

            await SendAsync(context, new { type = "response.output_text.done", sequence_number = sequence++, item_id = messageId, output_index = 0, content_index = 0, text }, "response.output_text.done");
        }
        else
        {
            var itemId = $"fc_{tool.Id}";
            await SendAsync(context, new { type = "response.output_item.added", sequence_number = sequence++, output_index = 0, item = new { type = "function_call", id = itemId, status = "in_progress", call_id = tool.Id, name = tool.Name, arguments = "" } }, "response.output_item.added");
            foreach (var part in tool.Arguments.Chunk(8).Select(c => new string(c)))
            {
                await Task.Delay(options.ChunkDelayMs, context.RequestAborted);
                await SendAsync(context, new { type = "response.function_call_arguments.delta", sequence_number = sequence++, item_id = itemId, output_index = 0, delta = part }, "response.function_call_arguments.delta");
            }

            await SendAsync(context, new { type = "response.function_call_arguments.done", sequence_number = sequence++, item_id = itemId, output_index = 0, arguments = tool.Arguments }, "response.function_call_arguments.done");
        }

        await SendAsync(context, new { type = "response.output_item.done", sequence_number = sequence++, output_index = 0, item }, "response.output_item.done");
        await SendAsync(context, new { type = "response.completed", sequence_number = sequence, response = Response("completed", [item], usage) }, "response.completed");
    }
}
