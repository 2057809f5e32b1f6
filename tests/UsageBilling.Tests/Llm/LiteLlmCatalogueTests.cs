using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Logging.Testing;
using UsageBilling.Tests.Shared;

namespace UsageBilling.Tests.Llm;

/// <summary>
/// The LiteLLM catalogue import, on a trimmed copy of the real <c>model_prices_and_context_window.json</c>
/// (Fixtures/litellm_model_prices.json; BerriAI/litellm commit 00035b69f416be24e2e323c13198d9b7d2d1bdf9).
/// </summary>
public sealed class LiteLlmCatalogueTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 29, 12, 0, 0, TimeSpan.Zero);
    private static readonly string Fixture = Path.Combine(AppContext.BaseDirectory, "Llm", "Fixtures", "litellm_model_prices.json");

    [Fact]
    public async Task The_real_snapshot_imports_with_prices_per_million_that_match_the_providers_published_ones()
    {
        var catalog = Catalog(o => o.Pricing.LiteLlmCatalogFile = Fixture);

        // anthropic.com/pricing — Claude Opus 4.1: $15 / $75, 5-minute cache write $18.75, 1-hour $30, cache hit $1.50; web search $10 per 1,000.
        var opus41 = await PriceAsync(catalog, "claude-opus-4-1");
        Assert.Equal((15m, 75m, 1.5m, 18.75m, 30m, 0.01m), (U(opus41.InputPerMillion), U(opus41.OutputPerMillion), U(opus41.CachedInputPerMillion), U(opus41.CacheWrite5mPerMillion!.Value), U(opus41.CacheWrite1hPerMillion!.Value), U(opus41.WebSearchPerRequest)));

        // Claude Opus 4.5: $5 / $25, cache write $6.25 (5 min) and $10 (1 h), cache hit $0.50.
        var opus45 = await PriceAsync(catalog, "claude-opus-4-5");
        Assert.Equal((5m, 25m, 0.5m, 6.25m, 10m), (U(opus45.InputPerMillion), U(opus45.OutputPerMillion), U(opus45.CachedInputPerMillion), U(opus45.CacheWrite5mPerMillion!.Value), U(opus45.CacheWrite1hPerMillion!.Value)));

        // Claude Sonnet 4.5 on Bedrock: $3 / $15, above 200K input tokens $6 / $22.50, cache hit $0.60, 5-minute write $7.50, 1-hour write $12.
        var sonnet = await PriceAsync(catalog, "claude-sonnet-4-5-20250929-v1:0");
        Assert.Equal((3m, 15m, 0.3m), (U(sonnet.InputPerMillion), U(sonnet.OutputPerMillion), U(sonnet.CachedInputPerMillion)));
        var longContext = sonnet.LongContext!;
        Assert.Equal(200_000, longContext.ThresholdInputTokens);
        Assert.Equal((6m, 22.5m, 0.6m, 7.5m, 12m), (U(longContext.Price.InputPerMillion), U(longContext.Price.OutputPerMillion), U(longContext.Price.CachedInputPerMillion), U(longContext.Price.CacheWrite5mPerMillion!.Value), U(longContext.Price.CacheWrite1hPerMillion!.Value)));

        // openai.com/api/pricing — codex-mini-latest: $1.50 / $6, cached input $0.375.
        var codex = await PriceAsync(catalog, "codex-mini-latest");
        Assert.Equal((1.5m, 6m, 0.375m), (U(codex.InputPerMillion), U(codex.OutputPerMillion), U(codex.CachedInputPerMillion)));

        // cohere.com/pricing — Embed 4: $0.12 per million text tokens; found without its provider prefix too.
        Assert.Equal(0.12m, U((await PriceAsync(catalog, "cohere/embed-v4.0")).InputPerMillion));
        Assert.Equal("cohere/embed-v4.0", (await PriceAsync(catalog, "embed-v4.0")).Model);

        // mistral.ai/pricing — Magistral Medium: $2 / $5.
        var magistral = await PriceAsync(catalog, "magistral-medium-2506");
        Assert.Equal((2m, 5m), (U(magistral.InputPerMillion), U(magistral.OutputPerMillion)));

        // A per-token price written with an exponent and float noise (1.5000020000000002e-05) is read exactly, to the nano-unit.
        var databricks = await PriceAsync(catalog, "databricks/databricks-meta-llama-3-1-405b-instruct");
        Assert.Equal((5.00003m, 15.00002m), (U(databricks.InputPerMillion), U(databricks.OutputPerMillion)));

        // A tier above 512K tokens, not only 200K.
        var minimax = await PriceAsync(catalog, "minimax/MiniMax-M3");
        Assert.Equal((512_000L, 0.6m, 2.4m, 0.12m), (minimax.LongContext!.ThresholdInputTokens, U(minimax.LongContext.Price.InputPerMillion), U(minimax.LongContext.Price.OutputPerMillion), U(minimax.LongContext.Price.CachedInputPerMillion)));
    }

    [Fact]
    public async Task Entries_without_a_positive_token_price_are_left_out_and_unknown_fields_are_ignored()
    {
        await using var stream = File.OpenRead(Fixture);
        var content = LiteLlmPriceCatalog.Read(stream);

        Assert.Equal(11, content.Models.Count);
        foreach (var skipped in new[] { "sample_spec", "1024-x-1024/dall-e-2", "cohere.rerank-v3-5:0", "dataforseo/search", "deepgram/nova-2" })
        {
            Assert.DoesNotContain(content.Models, m => m.Model == skipped);
        }

        // A model nobody prices keeps the unknown-model policy: no price, never a silent $0.
        Assert.Null(await Catalog(o => o.Pricing.LiteLlmCatalogFile = Fixture).GetModelPriceAsync("cohere.rerank-v3-5:0", Now));
    }

    [Fact]
    public async Task The_operators_prices_and_aliases_win_over_the_catalogue()
    {
        var catalog = Catalog(o =>
        {
            o.Pricing.LiteLlmCatalogFile = Fixture;
            o.Pricing.Models.Add(new ModelPriceOptions { Model = "claude-opus-4-1", Input = 14m, Output = 70m, EffectiveFrom = Now.AddDays(30) });
            o.Pricing.ModelAliases["embed-v4.0"] = "claude-opus-4-1";
        });

        // The operator lists claude-opus-4-1 (even if only from a later date): the catalogue's price is not used for it.
        Assert.Null(await catalog.GetModelPriceAsync("claude-opus-4-1", Now));
        Assert.Equal(14m, U((await PriceAsync(catalog, "claude-opus-4-1", Now.AddDays(31))).InputPerMillion));
        Assert.Equal("claude-opus-4-1", (await catalog.GetModelPriceAsync("embed-v4.0", Now.AddDays(31)))!.Model);
        Assert.Equal(5m, U((await PriceAsync(catalog, "claude-opus-4-5")).InputPerMillion));
    }

    [Fact]
    public async Task A_reload_logs_and_counts_models_whose_price_changed_or_was_lost()
    {
        var file = Path.Combine(Path.GetTempPath(), $"litellm-{Guid.NewGuid():N}.json");
        File.Copy(Fixture, file);
        using var services = new ServiceCollection().AddMetrics().BuildServiceProvider();
        var meters = services.GetRequiredService<IMeterFactory>();
        using var changes = new MetricCollector<long>(meters, UsageBillingMetrics.MeterName, "usagebilling.pricing.catalog_changes");
        var logger = new FakeLogger<OptionsPricingCatalog>();
        var options = new UsageBillingOptions();
        options.Pricing.LiteLlmCatalogFile = file;
        using var catalog = new OptionsPricingCatalog(new StaticOptionsMonitor<UsageBillingOptions>(options), logger: logger, metrics: new UsageBillingMetrics(meters));
        try
        {
            Assert.NotNull(await catalog.GetModelPriceAsync("codex-mini-latest", Now));

            var text = await File.ReadAllTextAsync(file);
            text = text.Replace("\"input_cost_per_token\": 5e-06,", "\"input_cost_per_token\": 6e-06,", StringComparison.Ordinal)   // claude-opus-4-5
                .Replace("\"codex-mini-latest\"", "\"codex-mini-retired\"", StringComparison.Ordinal);
            await File.WriteAllTextAsync(file, text);
            File.SetLastWriteTimeUtc(file, DateTime.UtcNow.AddMinutes(1));
            catalog.Invalidate();

            Assert.Equal(6m, U((await PriceAsync(catalog, "claude-opus-4-5")).InputPerMillion));
            Assert.Null(await catalog.GetModelPriceAsync("codex-mini-latest", Now));
            var lines = logger.Collector.GetSnapshot().Select(r => r.Message).ToList();
            Assert.Contains(lines, l => l.Contains("1 models changed their price: claude-opus-4-5", StringComparison.Ordinal));
            Assert.Contains(lines, l => l.Contains("1 models lost their price: codex-mini-latest", StringComparison.Ordinal));
            Assert.Equal(
                [("claude-opus-4-5", "changed"), ("codex-mini-latest", "lost")],
                changes.GetMeasurementSnapshot().Select(m => ((string)m.Tags["usagebilling.model"]!, (string)m.Tags["usagebilling.kind"]!)).Order());
        }
        finally
        {
            File.Delete(file);
        }
    }

    private static decimal U(Money money) => money.ToUnits();

    private static async Task<ModelPrice> PriceAsync(OptionsPricingCatalog catalog, string model, DateTimeOffset? at = null)
        => await catalog.GetModelPriceAsync(model, at ?? Now) ?? throw new Xunit.Sdk.XunitException($"'{model}' has no price.");

    private static OptionsPricingCatalog Catalog(Action<UsageBillingOptions> configure)
    {
        var options = new UsageBillingOptions();
        configure(options);
        return new OptionsPricingCatalog(new StaticOptionsMonitor<UsageBillingOptions>(options));
    }
}
