using Microsoft.Extensions.Options;

using UsageBilling.Tests.Shared;

namespace UsageBilling.Tests.Llm;

public sealed class ModelPricingTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 15, 12, 0, 0, TimeSpan.Zero);

    [Theory]
    [InlineData("gpt-4o")]
    [InlineData("GPT-4o")]
    [InlineData("openai/gpt-4o")]
    [InlineData("openrouter/openai/gpt-4o")]
    [InlineData("gpt-4o-2024-08-06")]
    [InlineData("gpt-4o-20240806")]
    [InlineData("openai/gpt-4o-2024-08-06")]
    [InlineData("4o")]
    [InlineData("latest-4o")]
    public async Task Model_names_are_normalised_to_the_listed_model(string requested)
    {
        var catalog = Catalog(o =>
        {
            o.Pricing.Models.Add(Price("gpt-4o", 2.5m, 10m, aliases: ["latest-4o"]));
            o.Pricing.ModelAliases["4o"] = "gpt-4o";
        });

        var price = await catalog.GetModelPriceAsync(requested, Now);
        Assert.Equal("gpt-4o", price?.Model);
    }

    [Fact]
    public async Task An_unlisted_model_has_no_price()
    {
        var catalog = Catalog(o => o.Pricing.Models.Add(Price("gpt-4o", 2.5m, 10m)));
        Assert.Null(await catalog.GetModelPriceAsync("gpt-4o-mini", Now));
        Assert.Null(await catalog.GetModelPriceAsync("claude-3-opus", Now));
    }

    [Fact]
    public async Task A_price_applies_from_its_effective_date()
    {
        var change = new DateTimeOffset(2026, 12, 1, 0, 0, 0, TimeSpan.Zero);
        var catalog = Catalog(o =>
        {
            o.Pricing.Models.Add(Price("m", 1m, 2m));
            var later = Price("m", 3m, 4m);
            later.EffectiveFrom = change;
            o.Pricing.Models.Add(later);
        });

        Assert.Equal(Money.FromUnits(1m), (await catalog.GetModelPriceAsync("m", change.AddTicks(-1)))!.InputPerMillion);
        Assert.Equal(Money.FromUnits(3m), (await catalog.GetModelPriceAsync("m", change))!.InputPerMillion);
        Assert.Equal(Money.FromUnits(4m), (await catalog.ListModelPricesAsync(change.AddDays(1))).Single().OutputPerMillion);
    }

    [Fact]
    public async Task Prices_and_aliases_load_from_a_json_price_file()
    {
        var file = Path.Combine(Path.GetTempPath(), $"prices-{Guid.NewGuid():N}.json");
        await File.WriteAllTextAsync(file, """
            {
              // comments are allowed
              "models": [ { "model": "claude-sonnet-4-5", "input": 3, "output": 15, "cachedInput": 0.3, "requestFee": 0.001 } ],
              "aliases": { "sonnet": "claude-sonnet-4-5" }
            }
            """);
        try
        {
            var catalog = Catalog(o => o.Pricing.ModelPriceFile = file);
            var price = await catalog.GetModelPriceAsync("Sonnet", Now);
            Assert.Equal(Money.FromUnits(0.3m), price!.CachedInputPerMillion);
            Assert.Equal(Money.FromUnits(0.001m), price.RequestFee);
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public async Task A_price_file_that_breaks_after_start_up_keeps_its_last_good_prices()
    {
        var file = Path.Combine(Path.GetTempPath(), $"prices-{Guid.NewGuid():N}.json");
        await File.WriteAllTextAsync(file, """{ "models": [ { "model": "m", "input": 1, "output": 2 } ] }""");
        try
        {
            var options = new UsageBillingOptions();
            options.Pricing.ModelPriceFile = file;
            using var catalog = new OptionsPricingCatalog(new StaticOptionsMonitor<UsageBillingOptions>(options), new InMemoryModelPriceStore());
            Assert.Equal(Money.FromUnits(1m), (await catalog.GetModelPriceAsync("m", Now))!.InputPerMillion);

            await File.WriteAllTextAsync(file, "{ \"models\": [ { \"model\": ");
            File.SetLastWriteTimeUtc(file, DateTime.UtcNow.AddMinutes(1));
            // Setting a price rebuilds the index at once, reading the (now broken) file again.
            await catalog.SetModelPriceAsync(OptionsPricingCatalog.ToPrice(Price("other", 5m, 5m)), CancellationToken.None);

            Assert.Equal(Money.FromUnits(1m), (await catalog.GetModelPriceAsync("m", Now))!.InputPerMillion);
            Assert.Equal(Money.FromUnits(5m), (await catalog.GetModelPriceAsync("other", Now))!.InputPerMillion);
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Theory]
    [InlineData("""{ "models": [ { "model": "ok", "input": 1, "output": 2 }, { "model": "cheap", "input": -1, "output": 2 } ] }""", "'cheap'", "Input", "was -1")]
    [InlineData("""{ "models": [ { "model": "m", "input": 1, "output": 2, "requestFee": 0.0000000001 } ] }""", "'m'", "RequestFee", "9 decimal places")]
    [InlineData("""{ "models": [ { "model": "m", "input": 1, "output": 2 }, { "model": " M ", "input": 3, "output": 4 } ] }""", "'M'", "listed twice", "models[1]")]
    [InlineData("""{ "models": [ { "model": "", "input": 1, "output": 2 } ] }""", "models[0]", "Model must name the model", "")]
    [InlineData("""{ "models": [ { "model": "m", "input": "NaN", "output": 2 } ] }""", "$.models[0].input", "not valid", "")]
    [InlineData("""{ "models": [ { "model": "m", "input": 1, """, "not valid", "", "")]
    public async Task A_bad_price_file_stops_start_up_naming_the_file_the_model_and_the_field(string content, string model, string field, string detail)
    {
        var file = Path.Combine(Path.GetTempPath(), $"prices-{Guid.NewGuid():N}.json");
        await File.WriteAllTextAsync(file, content);
        try
        {
            var catalog = Catalog(o => o.Pricing.ModelPriceFile = file);
            var error = await Assert.ThrowsAsync<InvalidDataException>(async () => await catalog.GetModelPriceAsync("ok", Now));
            Assert.Contains(file, error.Message, StringComparison.Ordinal);
            Assert.Contains("UsageBilling:Pricing:ModelPriceFile", error.Message, StringComparison.Ordinal);
            Assert.Contains(model, error.Message, StringComparison.Ordinal);
            Assert.Contains(field, error.Message, StringComparison.Ordinal);
            Assert.Contains(detail, error.Message, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public async Task A_missing_price_file_names_the_setting_and_the_path()
    {
        var file = Path.Combine(Path.GetTempPath(), $"missing-{Guid.NewGuid():N}", "prices.json");
        var catalog = Catalog(o => o.Pricing.ModelPriceFile = file);
        var error = await Assert.ThrowsAsync<InvalidDataException>(async () => await catalog.GetModelPriceAsync("m", Now));
        Assert.Equal($"UsageBilling:Pricing:ModelPriceFile names the price file '{file}', which does not exist.", error.Message);
    }

    [Fact]
    public async Task A_negative_price_in_the_file_stops_the_host_from_starting()
    {
        var file = Path.Combine(Path.GetTempPath(), $"prices-{Guid.NewGuid():N}.json");
        await File.WriteAllTextAsync(file, """{ "models": [ { "model": "gpt-4o", "input": 2.5, "output": -10 } ] }""");
        try
        {
            var builder = Microsoft.AspNetCore.Builder.WebApplication.CreateBuilder();
            Microsoft.AspNetCore.TestHost.WebHostBuilderExtensions.UseTestServer(builder.WebHost);
            builder.Services.AddUsageBilling(o => o.Pricing.ModelPriceFile = file);
            await using var app = builder.Build();
            var error = await Assert.ThrowsAsync<InvalidDataException>(() => app.StartAsync());
            Assert.Contains("'gpt-4o'", error.Message, StringComparison.Ordinal);
            Assert.Contains("Output must be a non-negative amount", error.Message, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public async Task Plan_markups_come_from_options()
    {
        var catalog = Catalog(o => o.Pricing.PlanMarkupPercent["pro"] = 40m);
        Assert.Equal(40m, await catalog.GetPlanMarkupPercentAsync("PRO"));
        Assert.Equal(0m, await catalog.GetPlanMarkupPercentAsync("free"));
    }

    [Fact]
    public void Cost_adds_input_cached_and_output_exactly()
    {
        var price = OptionsPricingCatalog.ToPrice(Price("gpt-4o", 2.5m, 10m, cached: 1.25m));
        // 1,000 input (of which 0 cached) at 2.5/M + 200 cached at 1.25/M + 500 output at 10/M
        var cost = LlmCost.Compute(price, new LlmUsage(1000, 200, 500));
        Assert.Equal(Money.FromUnits(0.0025m + 0.00025m + 0.005m), cost);
    }

    [Fact]
    public void One_token_on_a_cheap_model_is_not_free()
    {
        var price = OptionsPricingCatalog.ToPrice(Price("cheap", 0.10m, 0.10m));
        Assert.Equal(Money.FromUnits(0.0000001m), LlmCost.Compute(price, new LlmUsage(1, 0, 0)));
    }

    [Fact]
    public void Fractions_of_a_nano_unit_round_up()
    {
        var price = OptionsPricingCatalog.ToPrice(Price("m", 0.0375m, 0m));
        // 0.0375 / 1M per token = 37.5 nano-units.
        Assert.Equal(38, LlmCost.Compute(price, new LlmUsage(1, 0, 0)).Nanos);
        Assert.Equal(75, LlmCost.Compute(price, new LlmUsage(2, 0, 0)).Nanos);
    }

    [Fact]
    public void Markup_and_request_fee_are_applied_exactly()
    {
        var options = Price("m", 3m, 15m);
        options.RequestFee = 0.001m;
        var price = OptionsPricingCatalog.ToPrice(options);
        var usage = new LlmUsage(1_000, 0, 1_000);
        // (0.003 + 0.015 + 0.001) * 1.40 = 0.0266
        Assert.Equal(Money.FromUnits(0.0266m), LlmCost.Compute(price, usage, markupPercent: 40m));
        Assert.Equal(Money.FromUnits(0.019m), LlmCost.Compute(price, usage));
    }

    [Fact]
    public void A_multiplier_applies_on_top_of_the_markup()
    {
        var price = OptionsPricingCatalog.ToPrice(Price("m", 3m, 15m));
        var usage = new LlmUsage(1_000, 0, 1_000);
        // 0.018 × 1.40 × 0.25 = 0.0063
        Assert.Equal(Money.FromUnits(0.0063m), LlmCost.Compute(price, usage, markupPercent: 40m, multiplier: 0.25m));
        Assert.Equal(Money.Zero, LlmCost.Compute(price, usage, multiplier: 0m));
        Assert.Throws<ArgumentOutOfRangeException>(() => LlmCost.Compute(price, usage, multiplier: -1m));
    }

    [Fact]
    public void Large_calls_do_not_overflow()
    {
        var price = OptionsPricingCatalog.ToPrice(Price("m", 75m, 150m));
        Assert.Equal(Money.FromUnits(75m + 150m), LlmCost.Compute(price, new LlmUsage(1_000_000, 0, 1_000_000)));
    }

    internal static ModelPriceOptions Price(string model, decimal input, decimal output, decimal? cached = null, string[]? aliases = null)
    {
        var options = new ModelPriceOptions { Model = model, Input = input, Output = output, CachedInput = cached };
        foreach (var alias in aliases ?? [])
        {
            options.Aliases.Add(alias);
        }

        return options;
    }

    private static OptionsPricingCatalog Catalog(Action<UsageBillingOptions> configure)
    {
        var options = new UsageBillingOptions();
        configure(options);
        return new OptionsPricingCatalog(new StaticOptionsMonitor<UsageBillingOptions>(options));
    }

    [Fact]
    public void A_cost_too_large_for_money_is_a_clear_overflow_not_a_wrong_number()
    {
        var price = OptionsPricingCatalog.ToPrice(Price("gpt-4o", 2.5m, 10m));
        var usage = new LlmUsage(0, 0, long.MaxValue);

        var error = Assert.Throws<OverflowException>(() => LlmCost.Compute(price, usage));
        Assert.Contains("too large", error.Message, StringComparison.Ordinal);
        Assert.False(LlmCost.TryCompute(price, usage, out _));
        Assert.False(LlmCost.TryCompute(OptionsPricingCatalog.ToPrice(Price("m", 9_000_000_000m, 9_000_000_000m)), new LlmUsage(long.MaxValue, long.MaxValue, long.MaxValue), out _, 10_000m, 1000m));
        Assert.True(LlmCost.TryCompute(price, new LlmUsage(1_000_000, 0, 0), out var cost));
        Assert.Equal(Money.FromUnits(2.5m), cost);
    }
}
