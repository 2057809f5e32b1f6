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
    [InlineData("{\"model\":\"gpt-4o\",\"messages\":[],\"max_tokens\":0}", "between 1 and 10000000")]
    [InlineData("{\"model\":\"gpt-4o\",\"messages\":[],\"max_tokens\":\"9\"}", "between 1 and 10000000")]
    public void Malformed_requests_are_refused_with_a_reason(string body, string reason)
    {
        Assert.Null(LlmRequestParser.TryParse(Encoding.UTF8.GetBytes(body), LlmApiFormat.OpenAIChatCompletions, out var error));
        Assert.Contains(reason, error, StringComparison.Ordinal);
    }

    [Fact]
    public void Anthropic_requests_must_set_max_tokens()
    {
        Assert.Null(LlmRequestParser.TryParse("""{"model":"claude","messages":[]}"""u8.ToArray(), LlmApiFormat.AnthropicMessages, out var error));
        Assert.Contains("max_tokens", error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(LlmApiFormat.OpenAIChatCompletions, "max_tokens", "\"messages\":[]")]
    [InlineData(LlmApiFormat.OpenAIChatCompletions, "max_completion_tokens", "\"messages\":[]")]
    [InlineData(LlmApiFormat.OpenAIResponses, "max_output_tokens", "\"input\":\"hi\"")]
    [InlineData(LlmApiFormat.AnthropicMessages, "max_tokens", "\"messages\":[]")]
    public void Output_token_maximums_beyond_the_range_are_refused_with_the_range(LlmApiFormat format, string name, string rest)
    {
        foreach (var value in new[] { "9223372036854775807", "10000001", "1e300", "-1" })
        {
            var body = $$"""{"model":"m",{{rest}},"{{name}}":{{value}}}""";
            Assert.Null(LlmRequestParser.TryParse(Encoding.UTF8.GetBytes(body), format, out var error));
            Assert.Equal($"'{name}' must be an integer between 1 and 10000000.", error);
        }

        Assert.Equal(10_000_000, Parse($$"""{"model":"m",{{rest}},"{{name}}":10000000}""", format).MaxOutputTokens);
    }

    [Fact]
    public void Invalid_utf16_and_nul_in_text_and_model_do_not_throw_and_are_replaced()
    {
        var request = Parse("""{"model":"gpt-4o\u0000\ud800","messages":[{"role":"user","content":"a\u0000\ud800b \udc00 \ud83d\ude42"}]}""", LlmApiFormat.OpenAIChatCompletions);

        Assert.Equal("gpt-4o\uFFFD\uFFFD", request.Model);
        Assert.Equal("a\0\uFFFDb \uFFFD \ud83d\ude42", Assert.Single(request.TextSegments, s => s.StartsWith('a')));
    }

    [Fact]
    public void Model_names_are_capped_and_stripped_of_control_characters()
    {
        var request = Parse($$"""{"model":"evil\n\tmodel{{new string('x', 1000)}}","messages":[]}""", LlmApiFormat.OpenAIChatCompletions);

        Assert.Equal(ClientStrings.MaxLength, request.Model.Length);
        Assert.StartsWith("evil\uFFFD\uFFFDmodelxxx", request.Model, StringComparison.Ordinal);
        Assert.DoesNotContain(request.Model, char.IsControl);
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
