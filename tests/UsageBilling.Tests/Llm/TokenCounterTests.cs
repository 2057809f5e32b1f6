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
        var request = LlmRequestParser.TryParse("""{"model":"gpt-4","messages":[{"role":"system","content":"tiktoken is great!"},{"role":"user","content":"Hello, world!"}]}"""u8.ToArray(), LlmApiFormat.OpenAIChatCompletions, out _)!;
        // 6 + 4 text tokens, 3 per message, 3 to prime the reply.
        Assert.Equal(6 + 4 + 2 * 3 + 3, _counter.CountInput(request));
    }
}

public sealed class TokenCountingWorkTests
{
    private static readonly Microsoft.ML.Tokenizers.Tokenizer O200k = new TokenCounter(new StaticOptionsMonitor<UsageBillingOptions>(new UsageBillingOptions())).For("gpt-4o");

    private const string Prose = """
        The quick brown fox jumps over the lazy dog. Billing by the token means every request is priced before it runs:
        we count the prompt, reserve the largest cost the call may reach, and settle what it really used.
        Code too: foreach (var (offset, length) in tokenizer.PreTokenizer.PreTokenize(text)) { total += length; }
        Numbers 1234567890, unicode café naïve 東京 🙂, punctuation!!! ... and    spaces	tabs
        <|endoftext|> and URLs such as https://example.com/path?query=1&x=2.
        """;

    [Fact]
    public void Prose_is_counted_exactly_as_the_tokenizer_counts_it()
    {
        var counter = new TokenCounter(new StaticOptionsMonitor<UsageBillingOptions>(new UsageBillingOptions()));
        foreach (var model in new[] { "gpt-4o", "gpt-4" })
        {
            var text = string.Concat(Enumerable.Repeat(Prose, 50));
            Assert.Equal(counter.For(model).CountTokens(text), counter.CountText(model, text));
        }
    }

    [Theory]
    [InlineData('x')]
    [InlineData('X')]
    [InlineData(' ')]
    [InlineData('!')]
    [InlineData('\n')]
    [InlineData('é')]
    [InlineData('東')]
    public void A_long_run_of_one_character_is_counted_by_a_bound_no_lower_than_the_exact_count(char c)
    {
        var text = new string(c, 20_000);
        var budget = long.MaxValue;
        var (tokens, longest) = TokenCounter.Count(O200k, text, ref budget, CancellationToken.None);
        Assert.True(tokens >= O200k.CountTokens(text), $"{tokens} < exact {O200k.CountTokens(text)}");
        Assert.True(longest <= TokenCounter.MaxPreciseRun, $"a piece of {longest} characters went to the BPE");
    }

    [Theory]
    [InlineData("x")]
    [InlineData("ab")]
    [InlineData("1")]
    [InlineData(" ")]
    [InlineData("🙂")]
    [InlineData("Ab")]
    [InlineData("x ")]
    [InlineData("\ud800")]
    public void Counting_one_mebibyte_of_one_repeated_pattern_is_linear(string pattern)
    {
        var small = string.Concat(Enumerable.Repeat(pattern, 256 * 1024 / pattern.Length));
        var large = string.Concat(Enumerable.Repeat(pattern, 1024 * 1024 / pattern.Length));
        using var safety = new CancellationTokenSource(TimeSpan.FromSeconds(60));

        var smallBudget = long.MaxValue;
        var largeBudget = long.MaxValue;
        var smallResult = TokenCounter.Count(O200k, small, ref smallBudget, safety.Token);
        var largeResult = TokenCounter.Count(O200k, large, ref largeBudget, safety.Token);

        // The work is linear because no piece longer than the bound reaches the BPE, whose cost grows with the square
        // of a piece's length: the 1 MiB text hands the tokenizer pieces no longer than the 256 KiB one does, and its
        // bound is four times the count, not sixteen. (Wall-clock ratios are not asserted: they flake on a busy machine.)
        Assert.True(largeResult.LongestPrecisePiece <= TokenCounter.MaxPreciseRun);
        Assert.True(smallResult.LongestPrecisePiece <= TokenCounter.MaxPreciseRun);
        Assert.InRange(largeResult.Tokens, 4 * smallResult.Tokens - 4, System.Text.Encoding.UTF8.GetByteCount(large));
    }

    [Fact]
    public void Text_past_the_counted_character_cap_is_estimated_from_its_byte_length()
    {
        var options = new UsageBillingOptions();
        options.Llm.MaxCountedCharacters = 1000;
        var counter = new TokenCounter(new StaticOptionsMonitor<UsageBillingOptions>(options));
        var text = string.Concat(Enumerable.Repeat("hello world ", 1000));

        var counted = counter.CountText("gpt-4o", text);
        var exact = counter.For("gpt-4o").CountTokens(text);
        Assert.True(counted > exact, $"{counted} should be above the exact {exact}: the part past the cap is counted by bytes");
        Assert.True(counted >= exact + (text.Length - 1000) / 2, "most of the text is counted by bytes");
        Assert.True(counted <= System.Text.Encoding.UTF8.GetByteCount(text));
    }

    [Fact]
    public void Counting_stops_when_the_caller_cancels()
    {
        var counter = new TokenCounter(new StaticOptionsMonitor<UsageBillingOptions>(new UsageBillingOptions()));
        var request = LlmRequestParser.TryParse(System.Text.Encoding.UTF8.GetBytes(
            $$"""{"model":"gpt-4o","messages":[{"role":"user","content":"{{string.Concat(Enumerable.Repeat("word ", 100_000))}}"}]}"""),
            LlmApiFormat.OpenAIChatCompletions, out _)!;
        Assert.Throws<OperationCanceledException>(() => counter.CountInput(request, new CancellationToken(canceled: true)));
        Assert.True(counter.CountInput(request) > 100_000);
    }
}
