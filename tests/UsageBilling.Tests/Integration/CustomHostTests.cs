using System.Net;
using System.Net.Http.Headers;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace UsageBilling.Tests.Integration;

/// <summary>Tests with a small app of their own, for what the sample does not show.</summary>
public sealed class CustomHostTests
{
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 11, 15, 10, 0, 0, TimeSpan.Zero));

    [Fact]
    public async Task Authorize_works_with_the_api_key_scheme_and_the_principal_carries_key_account_and_plan()
    {
        await using var app = await StartAsync(app => app.MapGet("/me", [Authorize(AuthenticationSchemes = ApiKeyDefaults.AuthenticationScheme)] (HttpContext context) =>
            string.Join(",", context.User.FindFirst(UsageBillingClaimTypes.KeyId)!.Value, context.User.FindFirst(UsageBillingClaimTypes.AccountId)!.Value,
                context.User.FindFirst(UsageBillingClaimTypes.Plan)!.Value)));
        var (account, key) = await CreateCustomerAsync(app, 1m, plan: "gold");
        using var client = Client(app, key.Plaintext);

        Assert.Equal($"{key.Key.Id},{account},gold", await client.GetStringAsync("/me"));
        using var anonymous = app.GetTestClient();
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync("/me")).StatusCode);
    }

    [Fact]
    public async Task A_metered_endpoint_authenticates_with_the_api_key_scheme_even_when_it_is_not_the_default()
    {
        await using var app = await StartAsync(app => app.MapGet("/x", () => "ok").WithCost(0.5m));
        var (account, key) = await CreateCustomerAsync(app, 1m);
        using var client = Client(app, key.Plaintext);

        Assert.Equal("ok", await client.GetStringAsync("/x"));
        Assert.Equal(Money.FromUnits(0.5m), (await app.Services.GetRequiredService<CreditManager>().GetBalanceAsync(account)).Balance);
    }

    [Fact]
    public async Task Without_an_Idempotency_Key_the_endpoint_writes_to_the_servers_response_body_not_through_a_stream_adapter()
    {
        await using var app = await StartAsync(app => app.MapGet("/body", (HttpContext context) =>
            context.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpResponseBodyFeature>() is StreamResponseBodyFeature
                ? "adapter" : "server").RequireApiKey().WithCost(0.1m));
        var (_, key) = await CreateCustomerAsync(app, 1m);
        using var client = Client(app, key.Plaintext);

        Assert.Equal("server", await client.GetStringAsync("/body"));

        // With a key the response is captured for replays, through a stream in front of the server's body.
        using var keyed = new HttpRequestMessage(HttpMethod.Get, "/body");
        keyed.Headers.Add("Idempotency-Key", "body-1");
        using var response = await client.SendAsync(keyed);
        Assert.Equal("adapter", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task When_the_endpoint_throws_the_hold_is_released_and_nothing_is_charged()
    {
        await using var app = await StartAsync(app => app.MapGet("/boom", string () => throw new InvalidOperationException("boom")).RequireApiKey().WithCost(1m));
        var (account, key) = await CreateCustomerAsync(app, 1m);
        using var client = Client(app, key.Plaintext);

        // The test server hands the endpoint's exception to the caller instead of a 500.
        await Assert.ThrowsAsync<InvalidOperationException>(() => client.GetAsync("/boom"));
        Assert.Equal(new CreditBalance(Money.FromUnits(1m), Money.Zero), await app.Services.GetRequiredService<CreditManager>().GetBalanceAsync(account));
    }

    [Fact]
    public async Task An_idempotent_retry_after_a_failure_is_charged_once_when_it_succeeds()
    {
        var attempts = 0;
        await using var app = await StartAsync(app => app.MapPost("/flaky", () => Interlocked.Increment(ref attempts) == 1 ? Results.StatusCode(503) : Results.Ok("done"))
            .RequireApiKey().WithCost(0.25m));
        var (account, key) = await CreateCustomerAsync(app, 1m);
        using var client = Client(app, key.Plaintext);

        Assert.Equal(HttpStatusCode.ServiceUnavailable, (await PostAsync(client, "/flaky", "op-1")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await PostAsync(client, "/flaky", "op-1")).StatusCode);
        var replay = await PostAsync(client, "/flaky", "op-1");
        Assert.Equal(HttpStatusCode.OK, replay.StatusCode);
        Assert.True(replay.Headers.Contains("Idempotent-Replayed"));
        Assert.Equal(Money.FromUnits(0.75m), (await app.Services.GetRequiredService<CreditManager>().GetBalanceAsync(account)).Balance);
    }

    [Fact]
    public async Task A_price_name_that_is_not_configured_is_a_visible_error_never_a_free_call()
    {
        await using var app = await StartAsync(app => app.MapGet("/unpriced", () => "free?").RequireApiKey().WithPrice("missing"));
        var (account, key) = await CreateCustomerAsync(app, 1m);
        using var client = Client(app, key.Plaintext);

        var response = await client.GetAsync("/unpriced");
        Assert.Equal(HttpStatusCode.InternalServerError, response.StatusCode);
        Assert.Contains(ProblemTypes.PriceNotConfigured, await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(Money.FromUnits(1m), (await app.Services.GetRequiredService<CreditManager>().GetBalanceAsync(account)).Balance);
    }

    [Fact]
    public async Task Controllers_style_attribute_metering_charges_like_the_convention()
    {
        await using var app = await StartAsync(app => app.MapGet("/attr", [Metered("0.2")] () => "ok"));
        var (account, key) = await CreateCustomerAsync(app, 1m);
        using var client = Client(app, key.Plaintext);

        Assert.Equal("ok", await client.GetStringAsync("/attr"));
        Assert.Equal(Money.FromUnits(0.8m), (await app.Services.GetRequiredService<CreditManager>().GetBalanceAsync(account)).Balance);
    }

    [Fact]
    public async Task Usage_reported_by_endpoint_code_overrides_response_parsing()
    {
        await using var app = await StartAsync(app => app.MapPost("/v1/chat/completions", (HttpContext context) =>
            {
                context.ReportLlmUsage("gpt-x", inputTokens: 1000, outputTokens: 500, cachedInputTokens: 200);
                return Results.Json(new { usage = new { prompt_tokens = 1, completion_tokens = 1 } });
            }).RequireApiKey().MeterLlmUsage(), o => o.Pricing.Models.Add(new ModelPriceOptions { Model = "gpt-x", Input = 2m, Output = 8m, CachedInput = 1m }));
        var (account, key) = await CreateCustomerAsync(app, 1m);
        using var client = Client(app, key.Plaintext);

        var response = await client.PostAsync("/v1/chat/completions", Json("""{"model":"gpt-x","messages":[{"role":"user","content":"hi"}],"max_tokens":600}"""));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        // 1000 × 2 + 200 × 1 + 500 × 8 per million.
        Assert.Equal(new CreditBalance(Money.FromUnits(1m - 0.0062m), Money.Zero), await app.Services.GetRequiredService<CreditManager>().GetBalanceAsync(account));
    }

    [Fact]
    public async Task An_upstream_error_without_usage_is_not_charged()
    {
        await using var app = await StartAsync(app => app.MapPost("/v1/chat/completions", () =>
                Results.Json(new { error = new { message = "upstream overloaded" } }, statusCode: StatusCodes.Status502BadGateway))
            .RequireApiKey().MeterLlmUsage(), o => o.Pricing.Models.Add(new ModelPriceOptions { Model = "gpt-x", Input = 2m, Output = 8m }));
        var (account, key) = await CreateCustomerAsync(app, 1m);
        using var client = Client(app, key.Plaintext);

        var response = await client.PostAsync("/v1/chat/completions", Json("""{"model":"gpt-x","messages":[{"role":"user","content":"hi"}]}"""));
        Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
        Assert.Equal(new CreditBalance(Money.FromUnits(1m), Money.Zero), await app.Services.GetRequiredService<CreditManager>().GetBalanceAsync(account));
    }

    [Fact]
    public async Task When_actual_usage_exceeds_the_reservation_the_actual_is_charged_and_the_next_call_gets_402()
    {
        await using var app = await StartAsync(app => app.MapPost("/v1/chat/completions", (HttpContext context) =>
            {
                context.ReportLlmUsage("gpt-x", inputTokens: 10, outputTokens: 1_000_000);
                return Results.Ok();
            }).RequireApiKey().MeterLlmUsage(), o => o.Pricing.Models.Add(new ModelPriceOptions { Model = "gpt-x", Input = 1m, Output = 1m }));
        var (account, key) = await CreateCustomerAsync(app, 0.5m);
        using var client = Client(app, key.Plaintext);
        var body = """{"model":"gpt-x","messages":[{"role":"user","content":"hi"}],"max_tokens":10}""";

        Assert.Equal(HttpStatusCode.OK, (await client.PostAsync("/v1/chat/completions", Json(body))).StatusCode);
        var balance = await app.Services.GetRequiredService<CreditManager>().GetBalanceAsync(account);
        Assert.Equal(Money.FromUnits(0.5m - 1.00001m), balance.Balance);
        Assert.Equal(HttpStatusCode.PaymentRequired, (await client.PostAsync("/v1/chat/completions", Json(body))).StatusCode);
    }

    [Fact]
    public async Task Unknown_models_can_be_priced_by_default_but_never_silently()
    {
        await using var app = await StartAsync(app => app.MapPost("/v1/chat/completions", (HttpContext context) =>
            {
                context.ReportLlmUsage("mystery", inputTokens: 1000, outputTokens: 1000);
                return Results.Ok();
            }).RequireApiKey().MeterLlmUsage(), o =>
            {
                o.Pricing.UnknownModel = UnknownModelPolicy.DefaultPrice;
                o.Pricing.DefaultModelPrice = new ModelPriceOptions { Input = 1m, Output = 1m };
            });
        var (account, key) = await CreateCustomerAsync(app, 1m);
        using var client = Client(app, key.Plaintext);
        using var collector = new Microsoft.Extensions.Diagnostics.Metrics.Testing.MetricCollector<long>(
            app.Services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>(), UsageBillingMetrics.MeterName, "usagebilling.llm.unknown_models");

        Assert.Equal(HttpStatusCode.OK, (await client.PostAsync("/v1/chat/completions", Json("""{"model":"mystery","messages":[]}"""))).StatusCode);
        Assert.Equal(Money.FromUnits(1m - 0.002m), (await app.Services.GetRequiredService<CreditManager>().GetBalanceAsync(account)).Balance);
        Assert.Equal("mystery", Assert.Single(collector.GetMeasurementSnapshot()).Tags["usagebilling.model"]);
    }

    [Fact]
    public async Task A_power_level_header_multiplies_a_flat_price_and_an_unknown_level_is_refused()
    {
        await using var app = await StartAsync(app => app.MapGet("/x", () => "ok").RequireApiKey().WithCost(0.3m),
            o => o.Pricing.Multipliers["eco"] = 0.1m);
        var (account, key) = await CreateCustomerAsync(app, 1m);
        using var client = Client(app, key.Plaintext);
        client.DefaultRequestHeaders.Add("X-Power-Level", "ECO");

        Assert.Equal("ok", await client.GetStringAsync("/x"));
        Assert.Equal(Money.FromUnits(0.97m), (await app.Services.GetRequiredService<CreditManager>().GetBalanceAsync(account)).Balance);
        client.DefaultRequestHeaders.Remove("X-Power-Level");
        client.DefaultRequestHeaders.Add("X-Power-Level", "ludicrous");
        var refused = await client.GetAsync("/x");
        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        Assert.Contains(ProblemTypes.UnknownMultiplier, await refused.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(Money.FromUnits(0.97m), (await app.Services.GetRequiredService<CreditManager>().GetBalanceAsync(account)).Balance);
    }

    [Fact]
    public async Task Holds_left_behind_expire_and_the_sweeper_releases_them()
    {
        await using var app = await StartAsync(_ => { });
        var (account, _) = await CreateCustomerAsync(app, 1m);
        var credits = app.Services.GetRequiredService<CreditManager>();
        var held = await credits.ReserveAsync(account, Money.FromUnits(0.6m), "crashed-call");
        Assert.Equal(ReserveStatus.Reserved, held.Status);

        // Moving the clock also fires the host's own sweeper timer, which may release the hold first: one of the two does.
        _time.Advance(TimeSpan.FromMinutes(10));
        var sweeper = app.Services.GetRequiredService<ReservationSweeper>();
        Assert.InRange(await sweeper.SweepOnceAsync(CancellationToken.None), 0, 1);
        Assert.Equal(0, await sweeper.SweepOnceAsync(CancellationToken.None));
        Assert.Equal(new CreditBalance(Money.FromUnits(1m), Money.Zero), await credits.GetBalanceAsync(account));
        Assert.Equal(ReservationState.Expired, (await app.Services.GetRequiredService<ICreditStore>().FindReservationAsync(held.Reservation!.Id))!.State);
    }

    [Fact]
    public async Task The_sweeper_applies_the_current_timeout_to_holds_made_under_a_longer_one()
    {
        // Restarted with a 2-minute timeout; a crash before the restart left a hold made under a 10-hour one.
        await using var app = await StartAsync(_ => { }, o => o.Credits.ReservationTimeout = TimeSpan.FromMinutes(2));
        var (account, _) = await CreateCustomerAsync(app, 1m);
        var store = app.Services.GetRequiredService<ICreditStore>();
        var now = _time.GetUtcNow();
        var crashed = await store.ReserveAsync(new CreditReservationRequest
        {
            ReservationId = "res_crashed", AccountId = account, Amount = Money.FromUnits(0.6m), IdempotencyKey = "crashed-call",
            CreatedAt = now, ExpiresAt = now.AddHours(10),
        });
        Assert.Equal(ReserveStatus.Reserved, crashed.Status);
        var sweeper = app.Services.GetRequiredService<ReservationSweeper>();

        // The sweeper's own timer may run too when the clock moves: assert the hold's state, not who swept it.
        _time.Advance(TimeSpan.FromMinutes(1));
        await sweeper.SweepOnceAsync(CancellationToken.None);
        Assert.Equal(ReservationState.Active, (await store.FindReservationAsync("res_crashed"))!.State);
        _time.Advance(TimeSpan.FromMinutes(1));
        await sweeper.SweepOnceAsync(CancellationToken.None);

        Assert.Equal(new CreditBalance(Money.FromUnits(1m), Money.Zero), await app.Services.GetRequiredService<CreditManager>().GetBalanceAsync(account));
        Assert.Equal(ReservationState.Expired, (await store.FindReservationAsync("res_crashed"))!.State);
    }

    [Fact]
    public async Task Invalid_options_stop_the_app_at_start_up_with_a_clear_message()
    {
        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => StartAsync(_ => { }, o =>
        {
            o.Keys.Prefix = "bad prefix!";
            o.Plans.Limits["free"] = new RequestLimits { RequestsPerMinute = 0 };
        }));
        Assert.Contains("UsageBilling:Keys:Prefix", error.Message, StringComparison.Ordinal);
        Assert.Contains("UsageBilling:Plans:Limits:free:RequestsPerMinute", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void UseUsageBilling_without_AddUsageBilling_says_what_to_do()
    {
        var builder = WebApplication.CreateBuilder();
        builder.WebHost.UseTestServer();
        using var app = builder.Build();
        var error = Assert.Throws<InvalidOperationException>(() => app.UseUsageBilling());
        Assert.Contains("AddUsageBilling", error.Message, StringComparison.Ordinal);
    }

    private async Task<WebApplication> StartAsync(Action<WebApplication> map, Action<UsageBillingOptions>? configure = null)
    {
        var builder = WebApplication.CreateBuilder();
        builder.WebHost.UseTestServer();
        builder.Services.AddUsageBilling(o =>
        {
            o.Keys.Prefix = "sk-test-";
            configure?.Invoke(o);
        });
        builder.Services.AddSingleton<TimeProvider>(_time);
        var app = builder.Build();
        app.UseAuthentication();
        app.UseAuthorization();
        app.UseUsageBilling();
        map(app);
        try
        {
            await app.StartAsync();
        }
        catch
        {
            await app.DisposeAsync();
            throw;
        }

        return app;
    }

    private static async Task<(string AccountId, CreatedApiKey Key)> CreateCustomerAsync(WebApplication app, decimal credits, string? plan = null)
    {
        var account = await app.Services.GetRequiredService<AccountManager>().CreateAsync("Test", plan);
        await app.Services.GetRequiredService<CreditManager>().PostAsync(account.Id, LedgerEntryKind.Grant, Money.FromUnits(credits));
        var key = await app.Services.GetRequiredService<ApiKeyManager>().CreateAsync(account.Id, "test");
        return (account.Id, key);
    }

    private static HttpClient Client(WebApplication app, string key)
    {
        var client = app.GetTestClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        return client;
    }

    private static StringContent Json(string body) => new(body, System.Text.Encoding.UTF8, "application/json");

    private static Task<HttpResponseMessage> PostAsync(HttpClient client, string path, string idempotencyKey)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, path);
        request.Headers.Add("Idempotency-Key", idempotencyKey);
        return client.SendAsync(request);
    }
}
