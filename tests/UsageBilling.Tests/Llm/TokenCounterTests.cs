using Microsoft.Extensions.Options;

using UsageBilling.Tests.Shared;

namespace UsageBilling.Tests.Llm;

public sealed class TokenCounterTests
{
    private readonly TokenCounter _counter = new(new StaticOptionsMonitor<UsageBillingOptions>(new UsageBillingOptions()));

    [Theory]
    [InlineData("gpt-4", "tiktoken is great!", 6)]
    [InlineData("gpt-3.5-turbo", "Hello, world!", 4)]
    [InlineData("gpt-4o", "Hello, world!", 4)]
    [InlineData("gpt-4o", "", 0)]
    public void Counts_match_the_published_tiktoken_values(string model, string text, long expected)
        => Assert.Equal(expected, _counter.CountText(model, text));

    [Theory]
    [InlineData("gpt-4o-mini", "o200k_base")]
    [InlineData("openai/gpt-4.1-nano", "o200k_base")]
    [InlineData("o3-mini", "o200k_base")]
    [InlineData("gpt-4-turbo", "cl100k_base")]
    [InlineData("gpt-3.5-turbo", "cl100k_base")]
    [InlineData("claude-sonnet-4-5", "o200k_base")]
    public void The_encoding_follows_the_model_family(string model, string encoding) => Assert.Equal(encoding, _counter.EncodingFor(model));

    [Fact]
    public void Input_counts_add_the_per_message_overhead()
    {
        var request = LlmRequestParser.TryParse("""{"model":"gpt-4","messages":[{"role":"system","content":"tiktoken is great!"},{"role":"user","content":"Hello, world!"}]}"""u8, LlmApiFormat.OpenAIChatCompletions, out _)!;
        // 6 + 4 text tokens, 3 per message, 3 to prime the reply.
        Assert.Equal(6 + 4 + 2 * 3 + 3, _counter.CountInput(request));
    }
}
