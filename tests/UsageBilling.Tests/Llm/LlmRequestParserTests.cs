using System.Text;

namespace UsageBilling.Tests.Llm;

public sealed class LlmRequestParserTests
{
    [Fact]
    public void Chat_requests_yield_model_stream_max_tokens_and_every_text_the_model_reads()
    {
        var request = Parse("""
            {
              "model": "gpt-4o", "stream": true, "max_completion_tokens": 256,
              "messages": [
                { "role": "system", "content": "Be brief." },
                { "role": "user", "content": [ { "type": "text", "text": "Weather in Oslo?" }, { "type": "image_url", "image_url": { "url": "data:image/png;base64,AAAA" } } ] },
                { "role": "assistant", "content": null, "tool_calls": [ { "id": "call_1", "type": "function", "function": { "name": "weather", "arguments": "{\"city\":\"Oslo\"}" } } ] },
                { "role": "tool", "tool_call_id": "call_1", "content": "-3 C, snow" }
              ],
              "tools": [ { "type": "function", "function": { "name": "weather", "parameters": { "type": "object" } } } ]
            }
            """, LlmApiFormat.OpenAIChatCompletions);

        Assert.Equal("gpt-4o", request.Model);
        Assert.True(request.Stream);
        Assert.Equal(256, request.MaxOutputTokens);
        Assert.Equal(4, request.MessageCount);
        var text = string.Join('\n', request.TextSegments);
        Assert.Contains("Be brief.", text, StringComparison.Ordinal);
        Assert.Contains("Weather in Oslo?", text, StringComparison.Ordinal);
        Assert.Contains("{\"city\":\"Oslo\"}", text, StringComparison.Ordinal);
        Assert.Contains("-3 C, snow", text, StringComparison.Ordinal);
        Assert.Contains("\"parameters\"", text, StringComparison.Ordinal);
        Assert.DoesNotContain("base64", text, StringComparison.Ordinal);
        Assert.DoesNotContain("call_1", text, StringComparison.Ordinal);
    }

    [Fact]
    public void Anthropic_requests_count_the_system_prompt_and_tool_blocks()
    {
        var request = Parse("""
            {
              "model": "claude-sonnet-4-5", "max_tokens": 1024,
              "system": [ { "type": "text", "text": "You are terse." } ],
              "messages": [
                { "role": "user", "content": "Hi" },
                { "role": "assistant", "content": [ { "type": "tool_use", "id": "tu_1", "name": "lookup", "input": { "q": "x" } } ] },
                { "role": "user", "content": [ { "type": "tool_result", "tool_use_id": "tu_1", "content": "found it" } ] }
              ]
            }
            """, LlmApiFormat.AnthropicMessages);

        Assert.Equal(1024, request.MaxOutputTokens);
        Assert.Equal(4, request.MessageCount);
        var text = string.Join('\n', request.TextSegments);
        Assert.Contains("You are terse.", text, StringComparison.Ordinal);
        Assert.Contains("{ \"q\": \"x\" }", text, StringComparison.Ordinal);
        Assert.Contains("found it", text, StringComparison.Ordinal);
    }

    [Fact]
    public void Responses_requests_read_input_instructions_and_max_output_tokens()
    {
        var request = Parse("""{"model":"gpt-4.1","instructions":"Rhyme.","input":"Write about cats","max_output_tokens":50}""", LlmApiFormat.OpenAIResponses);
        Assert.Equal(50, request.MaxOutputTokens);
        Assert.Equal(["Rhyme.", "Write about cats"], request.TextSegments);
    }

    [Theory]
    [InlineData("{", "not valid JSON")]
    [InlineData("[]", "JSON object")]
    [InlineData("{\"messages\":[]}", "model")]
    [InlineData("{\"model\":\"\",\"messages\":[]}", "model")]
    [InlineData("{\"model\":\"gpt-4o\"}", "messages")]
    [InlineData("{\"model\":\"gpt-4o\",\"messages\":[1]}", "message")]
    [InlineData("{\"model\":\"gpt-4o\",\"messages\":[],\"max_tokens\":0}", "positive")]
    [InlineData("{\"model\":\"gpt-4o\",\"messages\":[],\"max_tokens\":\"9\"}", "positive")]
    public void Malformed_requests_are_refused_with_a_reason(string body, string reason)
    {
        Assert.Null(LlmRequestParser.TryParse(Encoding.UTF8.GetBytes(body), LlmApiFormat.OpenAIChatCompletions, out var error));
        Assert.Contains(reason, error, StringComparison.Ordinal);
    }

    [Fact]
    public void Anthropic_requests_must_set_max_tokens()
    {
        Assert.Null(LlmRequestParser.TryParse("""{"model":"claude","messages":[]}"""u8, LlmApiFormat.AnthropicMessages, out var error));
        Assert.Contains("max_tokens", error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("/v1/chat/completions", LlmApiFormat.OpenAIChatCompletions)]
    [InlineData("/openai/v1/responses", LlmApiFormat.OpenAIResponses)]
    [InlineData("/v1/messages/", LlmApiFormat.AnthropicMessages)]
    public void Auto_format_follows_the_path(string path, LlmApiFormat expected)
        => Assert.Equal(expected, LlmRequestParser.ResolveFormat(LlmApiFormat.Auto, path));

    private static LlmRequest Parse(string json, LlmApiFormat format)
    {
        var request = LlmRequestParser.TryParse(Encoding.UTF8.GetBytes(json), format, out var error);
        Assert.True(request is not null, error);
        return request!;
    }
}
