using System.Text.Json;

namespace LlmGateway;

/// <summary>The simulated model's embeddings and Anthropic token counting.</summary>
internal sealed partial class SimulatedModel
{
    private const int EmbeddingDimensions = 8;

    /// <summary>OpenAI embeddings: one deterministic vector per input, <c>usage.prompt_tokens</c> counted with the tokenizer.</summary>
    public static async Task EmbeddingsAsync(HttpContext context, JsonElement request)
    {
        var model = String(request.GetProperty("model"));
        var input = request.GetProperty("input");
        var texts = input.ValueKind == JsonValueKind.Array ? input.EnumerateArray().Select(e => e.ValueKind == JsonValueKind.String ? String(e) : e.GetRawText()).ToList() : [String(input)];
        var tokens = texts.Sum(CountTokens);
        await context.Response.WriteAsJsonAsync(new
        {
            @object = "list",
            data = texts.Select((text, index) => new { @object = "embedding", index, embedding = Vector(text) }),
            model,
            usage = new { prompt_tokens = tokens, total_tokens = tokens },
        }, Json, context.RequestAborted);
    }

    /// <summary>Anthropic <c>count_tokens</c>: <c>{"input_tokens": n}</c>, as the messages endpoint would count the same request.</summary>
    public static Task CountTokensAsync(HttpContext context, JsonElement request)
    {
        var messages = request.TryGetProperty("messages", out var m) && m.ValueKind == JsonValueKind.Array ? m : JsonDocument.Parse("[]").RootElement;
        var count = CountPrompt(messages, request.TryGetProperty("system", out var system) ? system : null);
        return context.Response.WriteAsJsonAsync(new { input_tokens = count }, Json, context.RequestAborted);
    }

    private static float[] Vector(string text)
    {
        var seed = 17;
        foreach (var c in text)
        {
            seed = unchecked(seed * 31 + c);
        }

        return Enumerable.Range(0, EmbeddingDimensions).Select(i => (unchecked(seed + i * 7919) % 1000) / 1000f).ToArray();
    }
}
