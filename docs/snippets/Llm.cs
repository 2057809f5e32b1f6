using UsageBilling;

namespace DocsSnippets;

internal static class Llm
{
    public static void Endpoints(WebApplication app)
    {
        // <snippet:llm-endpoints>
        // The format follows from the path (.../chat/completions, .../responses, .../messages) ...
        app.MapPost("/v1/chat/completions", ForwardAsync).RequireApiKey().MeterLlmUsage();

        // ... or is named when the path says nothing.
        app.MapPost("/v1/claude", ForwardAsync).RequireApiKey().MeterLlmUsage(LlmApiFormat.AnthropicMessages);
        // </snippet:llm-endpoints>
    }

    public static void Report(WebApplication app)
    {
        // <snippet:llm-report-usage>
        // The body is still an OpenAI chat request (it is priced and reserved before the handler runs);
        // the handler calls the model through its own client and reports what the call used.
        app.MapPost("/v2/chat", async (HttpContext context, ChatRequest request, IModelClient model) =>
            {
                var reply = await model.CompleteAsync(request, context.RequestAborted);

                // Input excludes cached input; the last report wins over anything read from the response.
                context.ReportLlmUsage(reply.Model, reply.InputTokens, reply.OutputTokens, reply.CachedInputTokens);
                return Results.Ok(new { reply.Text });
            })
            .RequireApiKey()
            .MeterLlmUsage(LlmApiFormat.OpenAIChatCompletions);
        // </snippet:llm-report-usage>
    }

    public static void Pricing(WebApplicationBuilder builder)
    {
        // <snippet:llm-pricing-code>
        builder.Services.AddUsageBilling(builder.Configuration.GetSection("UsageBilling"), o =>
        {
            var gpt4o = new ModelPriceOptions { Model = "gpt-4o", Input = 2.5m, Output = 10m, CachedInput = 1.25m };
            gpt4o.Aliases.Add("gpt-4o-latest");
            o.Pricing.Models.Add(gpt4o);

            // From 1 December, calls pay the new price; earlier calls keep the old one.
            o.Pricing.Models.Add(new ModelPriceOptions
            {
                Model = "gpt-4o", Input = 2m, Output = 8m, CachedInput = 1m,
                EffectiveFrom = new DateTimeOffset(2026, 12, 1, 0, 0, 0, TimeSpan.Zero),
            });

            o.Pricing.ModelAliases["smart"] = "gpt-4o";
            o.Pricing.PlanMarkupPercent["pro"] = 40;    // pro pays 140 % of the listed price

            o.Pricing.UnknownModel = UnknownModelPolicy.DefaultPrice;
            o.Pricing.DefaultModelPrice = new ModelPriceOptions { Input = 5m, Output = 15m };
        });
        // </snippet:llm-pricing-code>
    }

    private static Task ForwardAsync(HttpContext context) => Task.CompletedTask;
}

internal sealed record ChatRequest(string Model, IReadOnlyList<ChatMessage> Messages);

internal sealed record ChatMessage(string Role, string Content);

internal sealed record ModelReply(string Text, string Model, long InputTokens, long OutputTokens, long CachedInputTokens);

internal interface IModelClient
{
    Task<ModelReply> CompleteAsync(ChatRequest request, CancellationToken cancellationToken);
}
