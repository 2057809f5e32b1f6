using System.Text;
using Microsoft.AspNetCore.Http;

namespace UsageBilling.Tests.Llm;

/// <summary>Reads usage from recorded OpenAI and Anthropic responses, fed through the observer in chunks of every size.</summary>
public sealed class UsageExtractionTests
{
    private const string OpenAIStreamWithUsage =
        "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o-mini-2024-07-18\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"finish_reason\":null}],\"usage\":null}\n\n" +
        "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o-mini-2024-07-18\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hello\"},\"finish_reason\":null}],\"usage\":null}\n\n" +
        "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o-mini-2024-07-18\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\" there, caf\\u00e9 \\ud83d\\ude00\"},\"finish_reason\":null}],\"usage\":null}\n\n" +
        "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o-mini-2024-07-18\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}],\"usage\":null}\n\n" +
        "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o-mini-2024-07-18\",\"choices\":[],\"usage\":{\"prompt_tokens\":1200,\"completion_tokens\":7,\"total_tokens\":1207,\"prompt_tokens_details\":{\"cached_tokens\":1024,\"audio_tokens\":0},\"completion_tokens_details\":{\"reasoning_tokens\":0}}}\n\n" +
        "data: [DONE]\n\n";

    private const string OpenAIStreamWithToolCallsNoUsage =
        "data: {\"id\":\"c2\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"index\":0,\"id\":\"call_1\",\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"arguments\":\"\"}}]},\"finish_reason\":null}]}\r\n\r\n" +
        "data: {\"id\":\"c2\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"{\\\"city\\\":\"}}]},\"finish_reason\":null}]}\r\n\r\n" +
        "data: {\"id\":\"c2\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"\\\"Oslo\\\"}\"}}]},\"finish_reason\":null}]}\r\n\r\n" +
        ": keep-alive comment\r\n\r\n" +
        "data: {\"id\":\"c2\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"tool_calls\"}]}\r\n\r\n" +
        "data: [DONE]\r\n\r\n";

    private const string OpenAIJson = """
        {"id":"chatcmpl-3","object":"chat.completion","created":1,"model":"gpt-4o-2024-08-06",
         "choices":[{"index":0,"message":{"role":"assistant","content":"Sure.","tool_calls":null},"finish_reason":"stop"}],
         "usage":{"prompt_tokens":19,"completion_tokens":10,"total_tokens":29,"prompt_tokens_details":{"cached_tokens":0}}}
        """;

    private const string AnthropicStream =
        "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"content\":[],\"model\":\"claude-sonnet-4-5\",\"stop_reason\":null,\"usage\":{\"input_tokens\":25,\"cache_creation_input_tokens\":5,\"cache_read_input_tokens\":100,\"output_tokens\":1}}}\n\n" +
        "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n" +
        "event: ping\ndata: {\"type\": \"ping\"}\n\n" +
        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hello\"}}\n\n" +
        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"!\"}}\n\n" +
        "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":1,\"content_block\":{\"type\":\"tool_use\",\"id\":\"toolu_1\",\"name\":\"get_weather\",\"input\":{}}}\n\n" +
        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"location\\\": \\\"Oslo\\\"}\"}}\n\n" +
        "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":1}\n\n" +
        "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"tool_use\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":15}}\n\n" +
        "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";

    private const string AnthropicJson = """
        {"id":"msg_2","type":"message","role":"assistant","model":"claude-3-5-haiku-20241022",
         "content":[{"type":"text","text":"Hi"},{"type":"tool_use","id":"toolu_2","name":"f","input":{"a":1}}],
         "stop_reason":"tool_use","usage":{"input_tokens":12,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":6}}
        """;

    private const string ResponsesStream =
        "event: response.created\ndata: {\"type\":\"response.created\",\"response\":{\"id\":\"resp_1\",\"status\":\"in_progress\",\"usage\":null}}\n\n" +
        "event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\"item_id\":\"msg_1\",\"output_index\":0,\"content_index\":0,\"delta\":\"Hi there\"}\n\n" +
        "event: response.completed\ndata: {\"type\":\"response.completed\",\"response\":{\"id\":\"resp_1\",\"status\":\"completed\",\"output\":[{\"type\":\"message\",\"content\":[{\"type\":\"output_text\",\"text\":\"Hi there\"}]}],\"usage\":{\"input_tokens\":36,\"input_tokens_details\":{\"cached_tokens\":6},\"output_tokens\":87,\"output_tokens_details\":{\"reasoning_tokens\":0},\"total_tokens\":123}}}\n\n";

    public static TheoryData<int> ChunkSizes => new() { 1, 2, 3, 7, 64, 100_000 };

    [Theory]
    [MemberData(nameof(ChunkSizes))]
    public void OpenAI_stream_usage_is_read_from_the_final_chunk(int chunkSize)
    {
        var usage = Observe(OpenAIStreamWithUsage, "text/event-stream", LlmApiFormat.OpenAIChatCompletions, chunkSize, out var observer);
        Assert.Equal(176, usage.ReportedInputTokens);
        Assert.Equal(1024, usage.ReportedCachedInputTokens);
        Assert.Equal(7, usage.ReportedOutputTokens);
        Assert.Equal("Hello there, café 😀", usage.OutputText);
        Assert.True(observer.Streamed);
    }

    [Theory]
    [MemberData(nameof(ChunkSizes))]
    public void A_stream_without_usage_keeps_the_tool_call_text_for_estimation(int chunkSize)
    {
        var usage = Observe(OpenAIStreamWithToolCallsNoUsage, "text/event-stream; charset=utf-8", LlmApiFormat.OpenAIChatCompletions, chunkSize, out _);
        Assert.False(usage.HasUsage);
        Assert.Equal("get_weather{\"city\":\"Oslo\"}", usage.OutputText);
    }

    [Theory]
    [MemberData(nameof(ChunkSizes))]
    public void OpenAI_json_usage_is_read_from_the_body(int chunkSize)
    {
        var usage = Observe(OpenAIJson, "application/json; charset=utf-8", LlmApiFormat.OpenAIChatCompletions, chunkSize, out var observer);
        Assert.Equal((19L, 0L, 10L), (usage.ReportedInputTokens, usage.ReportedCachedInputTokens, usage.ReportedOutputTokens));
        Assert.Equal("Sure.", usage.OutputText);
        Assert.False(observer.Streamed);
    }

    [Theory]
    [MemberData(nameof(ChunkSizes))]
    public void Anthropic_stream_usage_comes_from_message_start_and_the_last_message_delta(int chunkSize)
    {
        var usage = Observe(AnthropicStream, "text/event-stream", LlmApiFormat.AnthropicMessages, chunkSize, out _);
        // input_tokens excludes cache reads and writes; writes (5-minute ones, as the usage has no TTL breakdown) are their own dimension.
        Assert.Equal(25, usage.ReportedInputTokens);
        Assert.Equal(5, usage.Usage(25, 15).CacheWrite5mTokens);
        Assert.Equal(100, usage.ReportedCachedInputTokens);
        Assert.Equal(15, usage.ReportedOutputTokens);
        Assert.Equal("Hello!{\"location\": \"Oslo\"}", usage.OutputText);
    }

    [Theory]
    [MemberData(nameof(ChunkSizes))]
    public void Anthropic_json_usage_and_tool_input_are_read(int chunkSize)
    {
        var usage = Observe(AnthropicJson, "application/json", LlmApiFormat.AnthropicMessages, chunkSize, out _);
        Assert.Equal((12L, 0L, 6L), (usage.ReportedInputTokens, usage.ReportedCachedInputTokens, usage.ReportedOutputTokens));
        Assert.Equal("Hi{\"a\":1}", usage.OutputText);
    }

    [Theory]
    [MemberData(nameof(ChunkSizes))]
    public void Responses_stream_usage_comes_from_response_completed(int chunkSize)
    {
        var usage = Observe(ResponsesStream, "text/event-stream", LlmApiFormat.OpenAIResponses, chunkSize, out _);
        Assert.Equal((30L, 6L, 87L), (usage.ReportedInputTokens, usage.ReportedCachedInputTokens, usage.ReportedOutputTokens));
        Assert.Equal("Hi there", usage.OutputText);
    }

    [Fact]
    public void A_stream_cut_off_mid_event_keeps_what_arrived()
    {
        var cut = AnthropicStream[..AnthropicStream.IndexOf("event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":1", StringComparison.Ordinal)];
        var usage = Observe(cut + "event: content_block_delta\ndata: {\"type\":\"cont", "text/event-stream", LlmApiFormat.AnthropicMessages, 5, out _);
        Assert.Equal(25, usage.ReportedInputTokens);
        Assert.Equal(1, usage.ReportedOutputTokens);
        Assert.Equal("Hello!", usage.OutputText);
    }

    [Fact]
    public void Bytes_reach_the_client_unchanged()
    {
        var context = new DefaultHttpContext();
        context.Response.ContentType = "text/event-stream";
        using var sink = new MemoryStream();
        using var observer = new LlmResponseObserver(sink, context.Response, new LlmUsageAccumulator(LlmApiFormat.AnthropicMessages), 1024 * 1024);
        var bytes = Encoding.UTF8.GetBytes(AnthropicStream);
        foreach (var chunk in bytes.Chunk(13))
        {
            observer.Write(chunk);
        }

        Assert.Equal(bytes, sink.ToArray());
    }

    [Fact]
    public void A_json_body_over_the_cap_is_not_read()
    {
        var usage = Observe(OpenAIJson, "application/json", LlmApiFormat.OpenAIChatCompletions, 16, out _, maxJsonBytes: 64);
        Assert.False(usage.HasUsage);
    }

    private static LlmUsageAccumulator Observe(string transcript, string contentType, LlmApiFormat format, int chunkSize, out LlmResponseObserver observer, int maxJsonBytes = 1024 * 1024)
    {
        var context = new DefaultHttpContext();
        context.Response.ContentType = contentType;
        var usage = new LlmUsageAccumulator(format);
        observer = new LlmResponseObserver(Stream.Null, context.Response, usage, maxJsonBytes);
        foreach (var chunk in Encoding.UTF8.GetBytes(transcript).Chunk(chunkSize))
        {
            observer.Write(chunk);
        }

        observer.Complete();
        return usage;
    }
}
