using System.Text.Json;
using LlmGateway;
using Microsoft.Extensions.Options;
using Samples.Shared;
using UsageBilling;

return SampleStartup.Run("LlmGateway", args, builder =>
{
    // Billing:Store picks the backend: SQLite (billing.db, the default), PostgreSQL, Mongo or InMemory.
    builder.Services.AddHealthChecks().AddUsageBilling();
    builder.Services.AddUsageBilling(builder.Configuration.GetSection("UsageBilling"))
        .UseConfiguredStore(builder.Configuration, builder.Environment);
    builder.Services.Configure<GatewayOptions>(builder.Configuration.GetSection("Gateway"));
    builder.Services.AddHttpClient<UpstreamForwarder>(client => client.Timeout = TimeSpan.FromMinutes(10));

    var gateway = builder.Configuration.GetSection("Gateway").Get<GatewayOptions>() ?? new GatewayOptions();
    if (string.IsNullOrEmpty(gateway.AdminToken) && !builder.Environment.IsDevelopment())
    {
        throw new SampleConfigurationException(
            "set Gateway:AdminToken (for example the environment variable Gateway__AdminToken) to protect the admin endpoints; only Development has a default.");
    }

    // The OpenAPI description (GET /openapi/v1.json); UsageBilling describes its own endpoints and metered responses.
    builder.Services.AddSampleOpenApi("LlmGateway", "An OpenAI- and Anthropic-compatible gateway that bills every call per token with UsageBilling.",
        ("LlmGateway", "The gateway's model endpoints: each needs an API key and is billed per token at the model's price."));

    var app = builder.Build();

    app.UseAuthentication();
    app.UseAuthorization();
    app.UseUsageBilling();

    app.MapGet("/", () => TypedResults.Text("LlmGateway: an OpenAI-compatible gateway that bills every call. See README.md."))
        .WithName("getIndex").WithSummary("Says what this app is.").Produces<string>(StatusCodes.Status200OK, "text/plain").AllowAnonymous();

    // OpenAI-compatible chat completions, JSON or streamed; billed per token at the model's price.
    app.MapPost("/v1/chat/completions", (HttpContext context, IOptions<GatewayOptions> options, UpstreamForwarder forwarder) =>
            ServeAsync(context, forwarder, options.Value.Upstream, "/chat/completions", anthropic: false,
                request => new SimulatedModel(options.Value.Simulator).ChatCompletionsAsync(context, request)))
        .WithName("createChatCompletion").WithSummary("OpenAI-compatible chat completion, JSON or streamed (stream: true); billed per token.")
        .Accepts<ChatCompletionRequest>("application/json")
        .Produces<ChatCompletionResponse>(StatusCodes.Status200OK, "application/json", "text/event-stream")
        .RequireApiKey()
        .MeterLlmUsage(LlmApiFormat.OpenAIChatCompletions, provider: "openai");

    // Anthropic-compatible messages, JSON or streamed.
    app.MapPost("/v1/messages", (HttpContext context, IOptions<GatewayOptions> options, UpstreamForwarder forwarder) =>
            ServeAsync(context, forwarder, options.Value.AnthropicUpstream, "/messages", anthropic: true,
                request => new SimulatedModel(options.Value.Simulator).MessagesAsync(context, request)))
        .WithName("createMessage").WithSummary("Anthropic-compatible message, JSON or streamed (stream: true); billed per token.")
        .Accepts<MessagesRequest>("application/json")
        .Produces<MessagesResponse>(StatusCodes.Status200OK, "application/json", "text/event-stream")
        .RequireApiKey()
        .MeterLlmUsage(LlmApiFormat.AnthropicMessages, provider: "anthropic");

    // OpenAI Responses API (the Vercel AI SDK's default, openai.responses.create), JSON or streamed.
    app.MapPost("/v1/responses", (HttpContext context, IOptions<GatewayOptions> options, UpstreamForwarder forwarder) =>
            ServeAsync(context, forwarder, options.Value.Upstream, "/responses", anthropic: false,
                request => new SimulatedModel(options.Value.Simulator).ResponsesAsync(context, request)))
        .WithName("createResponse").WithSummary("OpenAI Responses API, JSON or streamed (stream: true); billed per token.")
        .Accepts<JsonElement>("application/json")
        .Produces<JsonElement>(StatusCodes.Status200OK, "application/json", "text/event-stream")
        .RequireApiKey()
        .MeterLlmUsage(LlmApiFormat.OpenAIResponses, provider: "openai");

    // OpenAI embeddings, priced per input token (the model's Input price; nothing is held for output).
    app.MapPost("/v1/embeddings", (HttpContext context, IOptions<GatewayOptions> options, UpstreamForwarder forwarder) =>
            ServeAsync(context, forwarder, options.Value.Upstream, "/embeddings", anthropic: false, request => SimulatedModel.EmbeddingsAsync(context, request)))
        .WithName("createEmbedding").WithSummary("OpenAI embeddings; billed per input token.")
        .Accepts<JsonElement>("application/json")
        .Produces<JsonElement>(StatusCodes.Status200OK, "application/json")
        .RequireApiKey()
        .MeterLlmUsage(LlmApiFormat.OpenAIEmbeddings, provider: "openai");

    // Anthropic token counting: needs a key, but is free and reserves nothing (not metered).
    app.MapPost("/v1/messages/count_tokens", async (HttpContext context, IOptions<GatewayOptions> options, UpstreamForwarder forwarder) =>
        {
            using var buffer = new MemoryStream();
            await context.Request.Body.CopyToAsync(buffer, context.RequestAborted);
            JsonElement request;
            try
            {
                request = JsonDocument.Parse(buffer.ToArray()).RootElement.Clone();
            }
            catch (JsonException)
            {
                context.Response.StatusCode = StatusCodes.Status400BadRequest;
                await context.Response.WriteAsJsonAsync(new { type = "error", error = new { type = "invalid_request_error", message = "The request body is not valid JSON." } });
                return;
            }

            if (options.Value.AnthropicUpstream.IsConfigured)
            {
                await forwarder.ForwardAsync(context, options.Value.AnthropicUpstream, "/messages/count_tokens", buffer.ToArray(), anthropic: true);
            }
            else
            {
                await SimulatedModel.CountTokensAsync(context, request);
            }
        })
        .WithName("countMessageTokens").WithSummary("Anthropic token counting: needs a key, free, not metered.")
        .Accepts<JsonElement>("application/json")
        .Produces<JsonElement>(StatusCodes.Status200OK, "application/json")
        .RequireApiKey();

    // The models the caller's plan may use (every priced model unless UsageBilling:Plans:Models lists the plan's).
    app.MapGet("/v1/models", async (HttpContext context, IPricingCatalog pricing, IOptionsMonitor<UsageBillingOptions> billing, TimeProvider time) =>
        {
            var plan = context.Features.Get<IApiKeyFeature>()!.Account.Plan;
            var models = (await pricing.ListModelPricesAsync(time.GetUtcNow(), context.RequestAborted))
                .Where(m => billing.CurrentValue.Plans.Allows(plan, m.Model));
            return TypedResults.Ok(new ModelList("list", models.Select(m => new ModelEntry(m.Model, "model", "usagebilling")).ToList()));
        })
        .WithName("listModels").WithSummary("The models the caller's plan may use.")
        .RequireApiKey();

    // Usage LiteLLM reports through its generic_api success callback, billed once per call. The bearer secret is
    // UsageBilling:Ingest:Secret (at least 32 characters); without one every post is refused with 401.
    app.MapLiteLlmUsageIngest("/ingest/litellm");

    // The caller's own balance, usage, limits and ledger, authenticated by its API key.
    app.MapUsageBillingSelfService("/v1/billing");

    // The OpenAPI description of every endpoint above, admin and self-service included: GET /openapi/v1.json.
    app.MapOpenApi();

    app.MapUsageBillingAdmin("/admin/billing")
        .RequireAdminToken(services => services.GetRequiredService<IOptions<GatewayOptions>>().Value.AdminToken);

    // 200 when billing works, 503 when a billing store does not answer.
    app.MapHealthChecks("/health");
    app.MapHealthChecks("/healthz");
    return app;
});

// The billing middleware has already validated the JSON and buffered the body; read it again here.
// Forwards the call to the upstream when one is configured, else lets the simulated model answer. An account that
// stored its own provider key (bring your own key) calls the upstream with it and pays only the platform fee.
static async Task ServeAsync(HttpContext context, UpstreamForwarder forwarder, UpstreamOptions upstream, string path, bool anthropic, Func<JsonElement, Task> simulate)
{
    var (body, request) = await ReadAsync(context);
    if (upstream.IsConfigured)
    {
        await forwarder.ForwardAsync(context, upstream, path, body, anthropic, context.Features.Get<IProviderKeyFeature>()?.Key);
    }
    else
    {
        await simulate(request);
    }
}

static async Task<(byte[] Body, JsonElement Request)> ReadAsync(HttpContext context)
{
    using var buffer = new MemoryStream();
    await context.Request.Body.CopyToAsync(buffer, context.RequestAborted);
    var body = buffer.ToArray();
    return (body, JsonDocument.Parse(body).RootElement.Clone());
}

/// <summary>The gateway's entry point, public so that tests can host it.</summary>
public partial class Program;
