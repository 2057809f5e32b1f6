using System.Text.Json;
using System.Text.Json.Serialization;

namespace LlmGateway;

// The shapes of the gateway's requests and answers, for its OpenAPI description. The gateway itself passes bodies
// through as they are; these name the fields that billing reads and that clients use most.

/// <summary>An OpenAI chat completions request.</summary>
internal sealed record ChatCompletionRequest(
    [property: JsonPropertyName("model")] string Model,
    [property: JsonPropertyName("messages")] IReadOnlyList<ChatMessage> Messages,
    [property: JsonPropertyName("stream")] bool? Stream,
    [property: JsonPropertyName("max_tokens")] int? MaxTokens);

/// <summary>One message of a conversation.</summary>
internal sealed record ChatMessage([property: JsonPropertyName("role")] string Role, [property: JsonPropertyName("content")] JsonElement Content);

/// <summary>An OpenAI chat completion (streamed as server-sent <c>chat.completion.chunk</c> events when <c>stream</c> is true).</summary>
internal sealed record ChatCompletionResponse(
    [property: JsonPropertyName("id")] string Id,
    [property: JsonPropertyName("object")] string Object,
    [property: JsonPropertyName("model")] string Model,
    [property: JsonPropertyName("choices")] IReadOnlyList<ChatChoice> Choices,
    [property: JsonPropertyName("usage")] ChatUsage? Usage);

/// <summary>One answer of a chat completion.</summary>
internal sealed record ChatChoice([property: JsonPropertyName("index")] int Index, [property: JsonPropertyName("message")] ChatMessage Message,
    [property: JsonPropertyName("finish_reason")] string? FinishReason);

/// <summary>The tokens a chat completion used, as billed.</summary>
internal sealed record ChatUsage([property: JsonPropertyName("prompt_tokens")] int PromptTokens,
    [property: JsonPropertyName("completion_tokens")] int CompletionTokens, [property: JsonPropertyName("total_tokens")] int TotalTokens);

/// <summary>An Anthropic messages request.</summary>
internal sealed record MessagesRequest(
    [property: JsonPropertyName("model")] string Model,
    [property: JsonPropertyName("messages")] IReadOnlyList<ChatMessage> Messages,
    [property: JsonPropertyName("max_tokens")] int MaxTokens,
    [property: JsonPropertyName("stream")] bool? Stream);

/// <summary>An Anthropic message (streamed as server-sent events when <c>stream</c> is true).</summary>
internal sealed record MessagesResponse(
    [property: JsonPropertyName("id")] string Id,
    [property: JsonPropertyName("type")] string Type,
    [property: JsonPropertyName("model")] string Model,
    [property: JsonPropertyName("content")] IReadOnlyList<JsonElement> Content,
    [property: JsonPropertyName("usage")] MessagesUsage? Usage);

/// <summary>The tokens an Anthropic message used, as billed.</summary>
internal sealed record MessagesUsage([property: JsonPropertyName("input_tokens")] int InputTokens, [property: JsonPropertyName("output_tokens")] int OutputTokens);

/// <summary>The models the caller may use.</summary>
internal sealed record ModelList([property: JsonPropertyName("object")] string Object, [property: JsonPropertyName("data")] IReadOnlyList<ModelEntry> Data);

/// <summary>One model.</summary>
internal sealed record ModelEntry([property: JsonPropertyName("id")] string Id, [property: JsonPropertyName("object")] string Object,
    [property: JsonPropertyName("owned_by")] string OwnedBy);
