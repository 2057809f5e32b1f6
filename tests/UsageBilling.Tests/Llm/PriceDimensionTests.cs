using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace UsageBilling.Tests.Llm;

/// <summary>
/// Each price dimension, computed by hand from a provider's published prices and (where the provider publishes one)
/// the usage object of its own documentation example, read through the same observer the middleware uses.
/// </summary>
public sealed class PriceDimensionTests
{
    /// <summary>Claude Sonnet 4.5 (anthropic.com/pricing): input 3, 5-minute cache write 3.75, 1-hour cache write 6, cache read 0.30, output 15 per MTok.</summary>
    private static ModelPriceOptions Sonnet45() => new() { Model = "claude-sonnet-4-5", Input = 3m, Output = 15m, CachedInput = 0.30m };

    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(100_000)]
    public void Anthropic_cache_writes_cost_1_25x_for_5_minutes_and_2x_for_1_hour(int chunkSize)
    {
        // Usage from Anthropic's prompt-caching guide ("Mixing different TTLs").
        const string Body = """
            {"id":"msg_1","type":"message","role":"assistant","model":"claude-sonnet-4-5","content":[{"type":"text","text":"ok"}],
             "usage":{"input_tokens":2048,"cache_read_input_tokens":1800,"cache_creation_input_tokens":248,"output_tokens":503,
                      "cache_creation":{"ephemeral_1h_input_tokens":100,"ephemeral_5m_input_tokens":148}}}
            """;
        var usage = Read(Body, "application/json", LlmApiFormat.AnthropicMessages, chunkSize);
        Assert.Equal((2048L, 1800L, 148L, 100L, 503L), (usage.InputTokens, usage.CachedInputTokens, usage.CacheWrite5mTokens, usage.CacheWrite1hTokens, usage.OutputTokens));
        Assert.Equal((248L, 4096L), (usage.CacheWriteTokens, usage.TotalInputTokens));

        // 2048 × 3 + 1800 × 0.30 + 148 × 3.75 + 100 × 6 + 503 × 15 = 15,384 per million = 0.015384
        var breakdown = LlmCost.Explain(Price(Sonnet45()), usage);
        Assert.Equal(Money.FromUnits(0.015384m), breakdown.Total);
        Assert.Equal(
            [("input", 2048L, 0.006144m), ("cached_input", 1800L, 0.00054m), ("cache_write_5m", 148L, 0.000555m), ("cache_write_1h", 100L, 0.0006m), ("output", 503L, 0.007545m)],
            breakdown.Lines.Select(l => (l.Dimension, l.Quantity, l.Cost)));
    }

    [Fact]
    public void Anthropic_cache_writes_without_a_ttl_breakdown_are_5_minute_writes_and_explicit_prices_win()
    {
        // The older usage shape: only cache_creation_input_tokens.
        var usage = Read("""{"type":"message","usage":{"input_tokens":10,"cache_creation_input_tokens":1000,"cache_read_input_tokens":0,"output_tokens":1}}""",
            "application/json", LlmApiFormat.AnthropicMessages);
        Assert.Equal((1000L, 0L), (usage.CacheWrite5mTokens, usage.CacheWrite1hTokens));
        // 10 × 3 + 1000 × 3.75 + 1 × 15 = 3,795 per million
        Assert.Equal(Money.FromUnits(0.003795m), LlmCost.Compute(Price(Sonnet45()), usage));

        var priced = Sonnet45();
        priced.CacheWrite5m = 4m;
        Assert.Equal(Money.FromUnits(0.004045m), LlmCost.Compute(Price(priced), usage));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(64)]
    public void Anthropic_streams_carry_cache_writes_and_web_searches_in_message_start_and_message_delta(int chunkSize)
    {
        // Usage from Anthropic's web-search tool documentation, split the way the stream sends it.
        const string Stream =
            "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"content\":[],\"model\":\"claude-sonnet-4-5\",\"usage\":{\"input_tokens\":105,\"cache_creation_input_tokens\":7345,\"cache_read_input_tokens\":7123,\"cache_creation\":{\"ephemeral_5m_input_tokens\":7345,\"ephemeral_1h_input_tokens\":0},\"output_tokens\":1}}}\n\n" +
            "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Found it.\"}}\n\n" +
            "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},\"usage\":{\"input_tokens\":105,\"cache_creation_input_tokens\":7345,\"cache_read_input_tokens\":7123,\"output_tokens\":6039,\"server_tool_use\":{\"web_search_requests\":1}}}\n\n" +
            "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";
        var usage = Read(Stream, "text/event-stream", LlmApiFormat.AnthropicMessages, chunkSize);
        Assert.Equal((105L, 7123L, 7345L, 6039L, 1L), (usage.InputTokens, usage.CachedInputTokens, usage.CacheWrite5mTokens, usage.OutputTokens, usage.WebSearchRequests));

        // Web search: $10 per 1,000 searches (Anthropic pricing). 105 × 3 + 7123 × 0.30 + 7345 × 3.75 + 6039 × 15 = 120,580.65 per million, + 0.01
        var price = Sonnet45();
        price.WebSearchRequest = 0.01m;
        var breakdown = LlmCost.Explain(Price(price), usage);
        Assert.Equal(Money.FromUnits(0.12058065m + 0.01m), breakdown.Total);
        Assert.Contains(breakdown.Lines, l => l is { Dimension: "web_search", Quantity: 1, Cost: 0.01m });
    }

    [Theory]
    [InlineData(LlmApiFormat.OpenAIResponses, """{"object":"response","output":[],"usage":{"input_tokens":75,"input_tokens_details":{"cached_tokens":0},"output_tokens":1186,"output_tokens_details":{"reasoning_tokens":1024},"total_tokens":1261}}""")]
    [InlineData(LlmApiFormat.OpenAIChatCompletions, """{"object":"chat.completion","choices":[],"usage":{"prompt_tokens":75,"completion_tokens":1186,"total_tokens":1261,"completion_tokens_details":{"reasoning_tokens":1024}}}""")]
    public void Reasoning_tokens_pay_the_reasoning_price_when_it_differs(LlmApiFormat format, string body)
    {
        // Usage from OpenAI's reasoning guide; prices of Gemini 2.5 Flash Preview (ai.google.dev pricing, April 2025):
        // input 0.15, output 0.60 without thinking, 3.50 for thinking.
        var usage = Read(body, "application/json", format);
        Assert.Equal((75L, 1186L, 1024L), (usage.InputTokens, usage.OutputTokens, usage.ReasoningTokens));
        var price = new ModelPriceOptions { Model = "gemini-2.5-flash-preview", Input = 0.15m, Output = 0.60m, ReasoningOutput = 3.50m };

        // 75 × 0.15 + 162 × 0.60 + 1024 × 3.50 = 3,692.45 per million
        Assert.Equal(Money.FromUnits(0.00369245m), LlmCost.Compute(Price(price), usage));

        // Without a reasoning price, reasoning is output (OpenAI's rule): 75 × 0.15 + 1186 × 0.60 = 722.85 per million.
        Assert.Equal(Money.FromUnits(0.00072285m), LlmCost.Compute(Price(new ModelPriceOptions { Model = "m", Input = 0.15m, Output = 0.60m }), usage));
    }

    [Fact]
    public void OpenAI_cached_input_is_read_from_prompt_tokens_details_and_pays_the_cached_price()
    {
        // gpt-4o-mini (openai.com/api/pricing): input 0.15, cached input 0.075, output 0.60.
        var usage = Read("""{"object":"chat.completion","choices":[],"usage":{"prompt_tokens":1200,"completion_tokens":7,"prompt_tokens_details":{"cached_tokens":1024}}}""",
            "application/json", LlmApiFormat.OpenAIChatCompletions);
        // 176 × 0.15 + 1024 × 0.075 + 7 × 0.60 = 107.4 per million
        var price = new ModelPriceOptions { Model = "gpt-4o-mini", Input = 0.15m, Output = 0.60m, CachedInput = 0.075m };
        Assert.Equal(Money.FromUnits(0.0001074m), LlmCost.Compute(Price(price), usage));
    }

    [Fact]
    public void A_per_request_fee_is_added_once_per_call()
    {
        // Perplexity Sonar (docs.perplexity.ai pricing): input 1, output 1 per million, $5 per 1,000 requests (low search context).
        var price = new ModelPriceOptions { Model = "sonar", Input = 1m, Output = 1m, RequestFee = 0.005m };
        // 100 × 1 + 200 × 1 = 300 per million = 0.0003, + 0.005
        var breakdown = LlmCost.Explain(Price(price), new LlmUsage(100, 0, 200));
        Assert.Equal(Money.FromUnits(0.0053m), breakdown.Total);
        Assert.Equal(("request", 1L, 0.005m), breakdown.Lines.Select(l => (l.Dimension, l.Quantity, l.Cost)).Last());
    }

    [Fact]
    public void Audio_tokens_pay_the_audio_prices()
    {
        // gpt-4o-audio-preview (openai.com/api/pricing): text input 2.50, output 10; audio input 40, audio output 80.
        var usage = Read("""{"object":"chat.completion","choices":[],"usage":{"prompt_tokens":1000,"completion_tokens":500,"prompt_tokens_details":{"cached_tokens":0,"audio_tokens":800},"completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":400}}}""",
            "application/json", LlmApiFormat.OpenAIChatCompletions);
        Assert.Equal((800L, 400L), (usage.AudioInputTokens, usage.AudioOutputTokens));
        var price = new ModelPriceOptions { Model = "gpt-4o-audio-preview", Input = 2.5m, Output = 10m, AudioInput = 40m, AudioOutput = 80m };

        // 200 × 2.50 + 800 × 40 + 100 × 10 + 400 × 80 = 65,500 per million
        Assert.Equal(Money.FromUnits(0.0655m), LlmCost.Compute(Price(price), usage));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(100_000)]
    public void Responses_web_search_and_image_generation_calls_are_priced_per_unit(int chunkSize)
    {
        // gpt-4.1 (openai.com/api/pricing): input 2, output 8; web search tool calls $10 per 1,000 (0.01 each);
        // a gpt-image-1 image at medium quality, 1024×1024: 0.042.
        const string Stream =
            "event: response.output_item.done\ndata: {\"type\":\"response.output_item.done\",\"item\":{\"type\":\"web_search_call\",\"id\":\"ws_1\",\"status\":\"completed\"}}\n\n" +
            "event: response.completed\ndata: {\"type\":\"response.completed\",\"response\":{\"id\":\"resp_1\",\"object\":\"response\",\"status\":\"completed\",\"service_tier\":\"default\",\"output\":[" +
            "{\"type\":\"web_search_call\",\"id\":\"ws_1\",\"status\":\"completed\"},{\"type\":\"web_search_call\",\"id\":\"ws_2\",\"status\":\"completed\"}," +
            "{\"type\":\"image_generation_call\",\"id\":\"ig_1\",\"status\":\"completed\",\"result\":\"aGVsbG8=\"}," +
            "{\"type\":\"message\",\"content\":[{\"type\":\"output_text\",\"text\":\"Here.\"}]}]," +
            "\"usage\":{\"input_tokens\":1000,\"input_tokens_details\":{\"cached_tokens\":0},\"output_tokens\":100,\"output_tokens_details\":{\"reasoning_tokens\":0}}}}\n\n";
        var usage = Read(Stream, "text/event-stream", LlmApiFormat.OpenAIResponses, chunkSize);
        Assert.Equal((2L, 1L, null), (usage.WebSearchRequests, usage.Images, usage.ServiceTier));
        var price = new ModelPriceOptions { Model = "gpt-4.1", Input = 2m, Output = 8m, WebSearchRequest = 0.01m, Image = 0.042m };

        // 1000 × 2 + 100 × 8 = 2,800 per million = 0.0028, + 2 × 0.01 + 0.042
        Assert.Equal(Money.FromUnits(0.0648m), LlmCost.Compute(Price(price), usage));
    }

    [Fact]
    public void Above_the_long_context_threshold_the_whole_request_pays_the_tier_rates()
    {
        // Claude Sonnet 4.5 with the 1M context window (anthropic.com/pricing): above 200K input tokens — cache reads
        // and writes included — input 6, output 22.50, cache read 0.60, 5-minute write 7.50 per MTok.
        var options = Sonnet45();
        options.LongContextThreshold = 200_000;
        options.LongContext = new ServiceTierPriceOptions { Input = 6m, Output = 22.5m, CachedInput = 0.60m, CacheWrite5m = 7.5m };
        var price = Price(options);

        // Exactly 200K: the standard rates. 200,000 × 3 + 1,000 × 15 = 615,000 per million.
        var atThreshold = LlmCost.Explain(price, new LlmUsage(200_000, 0, 1_000));
        Assert.Equal(Money.FromUnits(0.615m), atThreshold.Total);
        Assert.False(atThreshold.LongContext);

        // 150K uncached + 60K cache reads = 210K > 200K: every token at the tier. 150,000 × 6 + 60,000 × 0.60 + 1,000 × 22.50 = 958,500 per million.
        var above = LlmCost.Explain(price, new LlmUsage(150_000, 60_000, 1_000));
        Assert.Equal(Money.FromUnits(0.9585m), above.Total);
        Assert.True(above.LongContext);
        Assert.Contains("\"longContext\":true", above.ToJson(), StringComparison.Ordinal);

        // Cache writes of either lifetime count towards the threshold too: 150K uncached + 40K 5-minute + 20K 1-hour writes = 210K.
        Assert.False(LlmCost.Explain(price, new LlmUsage(150_000, 0, 1_000) { CacheWrite5mTokens = 30_000, CacheWrite1hTokens = 20_000 }).LongContext);
        Assert.True(LlmCost.Explain(price, new LlmUsage(150_000, 0, 1_000) { CacheWrite5mTokens = 40_000, CacheWrite1hTokens = 20_000 }).LongContext);

        // Gemini 2.5 Pro (ai.google.dev pricing): up to 200K prompt tokens input 1.25, output 10; above, 2.50 and 15.
        var gemini = new ModelPriceOptions { Model = "gemini-2.5-pro", Input = 1.25m, Output = 10m, LongContextThreshold = 200_000, LongContext = new() { Input = 2.5m, Output = 15m } };
        // 250,000 × 2.50 + 2,000 × 15 = 655,000 per million
        Assert.Equal(Money.FromUnits(0.655m), LlmCost.Compute(Price(gemini), new LlmUsage(250_000, 0, 2_000)));
    }

    [Fact]
    public void Service_tiers_are_read_from_the_response_and_priced_by_override_or_multiplier()
    {
        // gpt-5 (openai.com/api/pricing): standard input 1.25, output 10; priority 2.50 and 20; flex half price.
        var options = new ModelPriceOptions { Model = "gpt-5", Input = 1.25m, Output = 10m, CachedInput = 0.125m };
        options.ServiceTiers["priority"] = new ServiceTierPriceOptions { Input = 2.5m, Output = 20m, CachedInput = 0.25m };
        options.ServiceTiers["flex"] = new ServiceTierPriceOptions { Multiplier = 0.5m };
        var price = Price(options);

        var priority = Read("""{"object":"chat.completion","service_tier":"priority","choices":[],"usage":{"prompt_tokens":1000,"completion_tokens":500}}""", "application/json", LlmApiFormat.OpenAIChatCompletions);
        Assert.Equal("priority", priority.ServiceTier);
        // 1000 × 2.50 + 500 × 20 = 12,500 per million
        var breakdown = LlmCost.Explain(price, priority);
        Assert.Equal(Money.FromUnits(0.0125m), breakdown.Total);
        Assert.Equal("priority", breakdown.ServiceTier);

        var flex = Read("""{"object":"response","service_tier":"flex","output":[],"usage":{"input_tokens":1000,"output_tokens":500}}""", "application/json", LlmApiFormat.OpenAIResponses);
        // (1000 × 1.25 + 500 × 10) × 0.5 = 3,125 per million
        Assert.Equal(Money.FromUnits(0.003125m), LlmCost.Compute(price, flex));

        // "default" is the standard tier; a tier without a price pays the standard price.
        var standard = new LlmUsage(1000, 0, 500);
        Assert.Equal(Money.FromUnits(0.00625m), LlmCost.Compute(price, standard with { ServiceTier = ServiceTiers.Normalize("default") }));
        Assert.Equal(Money.FromUnits(0.00625m), LlmCost.Compute(price, standard with { ServiceTier = "scale" }));
    }

    [Fact]
    public void Anthropic_batch_usage_pays_the_batch_multiplier()
    {
        // Message Batches (anthropic.com/pricing): 50 % of standard prices; the usage says "service_tier":"batch".
        var options = Sonnet45();
        options.ServiceTiers["batch"] = new ServiceTierPriceOptions { Multiplier = 0.5m };
        var usage = Read("""{"type":"message","usage":{"input_tokens":1000,"output_tokens":500,"service_tier":"batch"}}""", "application/json", LlmApiFormat.AnthropicMessages);
        // (1000 × 3 + 500 × 15) × 0.5 = 5,250 per million
        var breakdown = LlmCost.Explain(Price(options), usage);
        Assert.Equal(Money.FromUnits(0.00525m), breakdown.Total);
        Assert.Equal(0.5m, breakdown.Factor);
    }

    [Fact]
    public void The_breakdown_json_lists_each_dimension_and_the_total()
    {
        var breakdown = LlmCost.Explain(Price(Sonnet45()), new LlmUsage(1000, 0, 100) { CacheWrite1hTokens = 500 }, markupPercent: 40m);
        using var json = JsonDocument.Parse(breakdown.ToJson());
        var root = json.RootElement;
        // (1000 × 3 + 500 × 6 + 100 × 15) × 1.4 = 10,500 per million
        Assert.Equal(0.0105m, root.GetProperty("total").GetDecimal());
        Assert.Equal(1.4m, root.GetProperty("factor").GetDecimal());
        Assert.Equal(["input", "cache_write_1h", "output"], root.GetProperty("lines").EnumerateArray().Select(l => l.GetProperty("dimension").GetString()));
        Assert.Equal(0.003m, root.GetProperty("lines")[1].GetProperty("cost").GetDecimal());
        Assert.False(root.TryGetProperty("tier", out _));
    }

    [Fact]
    public void Breakdowns_written_one_after_another_on_one_thread_each_get_their_own_json()
    {
        // The writer and its buffer are kept per thread between breakdowns: each must start empty, also after one
        // too large to keep.
        var small = LlmCost.Explain(Price(Sonnet45()), new LlmUsage(1000, 0, 100));
        var options = Sonnet45();
        var tier = new string('t', 5000);
        options.ServiceTiers[tier] = new ServiceTierPriceOptions { Multiplier = 0.5m };
        var large = LlmCost.Explain(Price(options), new LlmUsage(1000, 0, 100) { ServiceTier = tier });
        Assert.Equal(tier, large.ServiceTier);

        var first = small.ToJson();
        var second = LlmCost.Explain(Price(Sonnet45()), new LlmUsage(2000, 0, 0)).ToJson();
        var third = large.ToJson();
        var fourth = small.ToJson();

        Assert.Equal(first, fourth);
        using var firstJson = JsonDocument.Parse(first);
        using var secondJson = JsonDocument.Parse(second);
        using var thirdJson = JsonDocument.Parse(third);
        Assert.Equal(0.0045m, firstJson.RootElement.GetProperty("total").GetDecimal());
        Assert.Equal(0.006m, secondJson.RootElement.GetProperty("total").GetDecimal());
        Assert.Equal(tier, thirdJson.RootElement.GetProperty("tier").GetString());
    }

    private static ModelPrice Price(ModelPriceOptions options) => OptionsPricingCatalog.ToPrice(options);

    private static LlmUsage Read(string transcript, string contentType, LlmApiFormat format, int chunkSize = 100_000)
    {
        var context = new DefaultHttpContext();
        context.Response.ContentType = contentType;
        var accumulator = new LlmUsageAccumulator(format);
        using var observer = new LlmResponseObserver(Stream.Null, context.Response, accumulator, 1024 * 1024);
        foreach (var chunk in Encoding.UTF8.GetBytes(transcript).Chunk(chunkSize))
        {
            observer.Write(chunk);
        }

        observer.Complete();
        Assert.True(accumulator.HasUsage);
        return accumulator.Usage(accumulator.ReportedInputTokens!.Value, accumulator.ReportedOutputTokens!.Value);
    }
}

/// <summary>The new price dimensions load from the price file and from configuration.</summary>
public sealed class PriceDimensionSourceTests
{
    [Fact]
    public async Task Every_dimension_loads_from_the_price_file()
    {
        var file = Path.Combine(Path.GetTempPath(), $"prices-{Guid.NewGuid():N}.json");
        await File.WriteAllTextAsync(file, """
            { "models": [ { "model": "claude-sonnet-4-5", "input": 3, "output": 15, "cachedInput": 0.3, "cacheWrite1h": 6.5,
                "reasoningOutput": 20, "audioInput": 40, "audioOutput": 80, "webSearchRequest": 0.01, "image": 0.04,
                "longContextThreshold": 200000, "longContext": { "input": 6, "output": 22.5 },
                "serviceTiers": { "Batch": { "multiplier": 0.5 }, "priority": { "input": 5 } } } ] }
            """);
        try
        {
            var options = new UsageBillingOptions();
            options.Pricing.ModelPriceFile = file;
            var price = (await new OptionsPricingCatalog(new UsageBilling.Tests.Shared.StaticOptionsMonitor<UsageBillingOptions>(options)).GetModelPriceAsync("claude-sonnet-4-5", DateTimeOffset.UtcNow))!;
            Assert.Equal(
                (Money.FromUnits(6.5m), (Money?)null, Money.FromUnits(20m), Money.FromUnits(40m), Money.FromUnits(80m), Money.FromUnits(0.01m), Money.FromUnits(0.04m)),
                (price.CacheWrite1hPerMillion!.Value, price.CacheWrite5mPerMillion, price.ReasoningOutputPerMillion!.Value, price.AudioInputPerMillion!.Value, price.AudioOutputPerMillion!.Value, price.WebSearchPerRequest, price.ImagePerUnit));
            Assert.Equal(200_000, price.LongContext!.ThresholdInputTokens);
            Assert.Equal((Money.FromUnits(6m), Money.FromUnits(22.5m), Money.FromUnits(0.3m)), (price.LongContext.Price.InputPerMillion, price.LongContext.Price.OutputPerMillion, price.LongContext.Price.CachedInputPerMillion));
            Assert.Equal(0.5m, price.ServiceTiers["batch"].Multiplier);
            Assert.Equal(Money.FromUnits(5m), price.ServiceTiers["priority"].Price.InputPerMillion);
            Assert.Equal(Money.FromUnits(15m), price.ServiceTiers["priority"].Price.OutputPerMillion);
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public void Every_dimension_binds_from_configuration_and_bad_values_stop_start_up()
    {
        var configuration = new Microsoft.Extensions.Configuration.ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["UsageBilling:Pricing:Models:0:Model"] = "gpt-5",
            ["UsageBilling:Pricing:Models:0:Input"] = "1.25",
            ["UsageBilling:Pricing:Models:0:Output"] = "10",
            ["UsageBilling:Pricing:Models:0:ServiceTiers:flex:Multiplier"] = "0.5",
            ["UsageBilling:Pricing:Models:0:LongContextThreshold"] = "272000",
            ["UsageBilling:Pricing:Models:0:LongContext:Input"] = "2.5",
            ["UsageBilling:Pricing:Models:1:Model"] = "bad",
            ["UsageBilling:Pricing:Models:1:WebSearchRequest"] = "-1",
            ["UsageBilling:Pricing:Models:1:LongContext:Input"] = "2",
        }).Build();
        var options = new UsageBillingOptions();
        Microsoft.Extensions.Configuration.ConfigurationBinder.Bind(configuration.GetSection("UsageBilling"), options);

        var price = OptionsPricingCatalog.ToPrice(options.Pricing.Models[0]);
        Assert.Equal(0.5m, price.ServiceTiers["flex"].Multiplier);
        Assert.Equal((272_000L, Money.FromUnits(2.5m)), (price.LongContext!.ThresholdInputTokens, price.LongContext.Price.InputPerMillion));

        var failures = new List<string>();
        UsageBillingOptionsValidator.ValidateModelPrice("UsageBilling:Pricing:Models:1", options.Pricing.Models[1], requireName: true, failures);
        Assert.Contains(failures, f => f.Contains("WebSearchRequest must be a non-negative amount", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.Contains("LongContext needs LongContextThreshold", StringComparison.Ordinal));
    }
}
