using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;

namespace UsageBilling.Tests.Integration;

/// <summary>
/// Idempotency as Stripe has it: a key binds to one request (method, path, query, body); a completed call is answered
/// from its stored response, never run again; reservations are never revived, so a hold that expired and a retry are
/// two runs with two charges, never one charge for two runs.
/// </summary>
public sealed class IdempotentReplayTests : IAsyncLifetime
{
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 11, 15, 10, 0, 0, TimeSpan.Zero));
    private readonly Dictionary<string, int> _runs = [];
    private readonly TaskCompletionSource _releaseFirstSlow = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _firstSlowStarted = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private WebApplication _app = null!;

    public async Task InitializeAsync()
    {
        var builder = WebApplication.CreateBuilder();
        builder.WebHost.UseTestServer();
        builder.Logging.ClearProviders();
        builder.Services.AddSingleton<TimeProvider>(_time);
        builder.Services.AddUsageBilling(o =>
        {
            o.Idempotency.MaxResponseBytes = 1024;
            o.Credits.ReservationTimeout = TimeSpan.FromMinutes(1);
        });
        _app = builder.Build();
        _app.UseAuthentication();
        _app.UseAuthorization();
        _app.UseUsageBilling();
        _app.MapPost("/orders", async (HttpRequest request) =>
        {
            var run = Count("orders");
            using var reader = new StreamReader(request.Body);
            return TypedResults.Created($"/orders/{run}", new { run, body = await reader.ReadToEndAsync() });
        }).RequireApiKey().WithCost(1m);
        _app.MapGet("/quote", (string symbol) => new { symbol, run = Count("quote") }).RequireApiKey().WithCost(1m);
        _app.MapGet("/big", () => new string('x', 4096) + Count("big")).RequireApiKey().WithCost(1m);
        _app.MapGet("/stream", async (HttpContext context) =>
        {
            Count("stream");
            context.Response.ContentType = "text/event-stream";
            await context.Response.WriteAsync("data: one\n\n");
            await context.Response.WriteAsync("data: [DONE]\n\n");
        }).RequireApiKey().WithCost(1m);
        _app.MapGet("/slow", async () =>
        {
            if (Count("slow") == 1)
            {
                _firstSlowStarted.SetResult();
                await _releaseFirstSlow.Task;
            }

            return "done";
        }).RequireApiKey().WithCost(1m);
        await _app.StartAsync();
    }

    public async Task DisposeAsync() => await _app.DisposeAsync();

    [Fact]
    public async Task A_completed_call_is_replayed_byte_for_byte_and_the_endpoint_runs_once()
    {
        var (account, client) = await CustomerAsync(10m);

        using var first = await SendAsync(client, HttpMethod.Post, "/orders", "order-1", """{"item":"a"}""");
        using var replay = await SendAsync(client, HttpMethod.Post, "/orders", "order-1", """{"item":"a"}""");

        Assert.Equal(HttpStatusCode.Created, first.StatusCode);
        Assert.Equal(HttpStatusCode.Created, replay.StatusCode);
        Assert.Equal(await first.Content.ReadAsStringAsync(), await replay.Content.ReadAsStringAsync());
        Assert.Equal(first.Content.Headers.ContentType, replay.Content.Headers.ContentType);
        Assert.Equal("true", replay.Headers.GetValues("Idempotent-Replayed").Single());
        Assert.False(first.Headers.Contains("Idempotent-Replayed"));
        Assert.Equal(1, _runs["orders"]);
        await AssertChargedAsync(account, 10m, 1);
    }

    [Fact]
    public async Task The_same_key_with_another_body_or_query_is_refused_with_422_and_nothing_runs_or_is_charged()
    {
        var (account, client) = await CustomerAsync(10m);

        using var first = await SendAsync(client, HttpMethod.Post, "/orders", "order-2", """{"prompt":"one"}""");
        using var otherBody = await SendAsync(client, HttpMethod.Post, "/orders", "order-2", """{"prompt":"two"}""");
        using var quote = await SendAsync(client, HttpMethod.Get, "/quote?symbol=A", "quote-1");
        var others = new List<HttpResponseMessage>();
        foreach (var symbol in new[] { "B", "C", "D", "E" })
        {
            others.Add(await SendAsync(client, HttpMethod.Get, $"/quote?symbol={symbol}", "quote-1"));
        }

        Assert.Equal(HttpStatusCode.Created, first.StatusCode);
        await MeteredApiFactory.ReadProblemAsync(otherBody, 422, ProblemTypes.IdempotencyKeyReused);
        Assert.Equal(HttpStatusCode.OK, quote.StatusCode);
        foreach (var other in others)
        {
            await MeteredApiFactory.ReadProblemAsync(other, 422, ProblemTypes.IdempotencyKeyReused);
            other.Dispose();
        }

        Assert.Equal(1, _runs["orders"]);
        Assert.Equal(1, _runs["quote"]);
        await AssertChargedAsync(account, 10m, 2);
    }

    [Fact]
    public async Task Concurrent_calls_with_one_key_run_the_endpoint_once_and_are_charged_once()
    {
        var (account, client) = await CustomerAsync(10m);

        var responses = await Task.WhenAll(Enumerable.Range(0, 50).Select(_ => SendAsync(client, HttpMethod.Post, "/orders", "order-3", """{"n":3}""")));

        Assert.All(responses, r => Assert.Contains(r.StatusCode, new[] { HttpStatusCode.Created, HttpStatusCode.Conflict }));
        Assert.Equal(1, _runs["orders"]);
        await AssertChargedAsync(account, 10m, 1);
        using var later = await SendAsync(client, HttpMethod.Post, "/orders", "order-3", """{"n":3}""");
        Assert.Equal(HttpStatusCode.Created, later.StatusCode);
        Assert.Equal(1, _runs["orders"]);
    }

    [Theory]
    [InlineData("/stream", 200)]
    [InlineData("/big", 200)]
    public async Task A_response_that_cannot_be_kept_is_answered_with_409_and_its_outcome_never_run_again(string path, int status)
    {
        var (account, client) = await CustomerAsync(10m);

        using var first = await SendAsync(client, HttpMethod.Get, path, "once");
        using var retry = await SendAsync(client, HttpMethod.Get, path, "once");

        Assert.Equal(status, (int)first.StatusCode);
        var problem = await MeteredApiFactory.ReadProblemAsync(retry, 409, ProblemTypes.IdempotencyKeyCompleted);
        Assert.Equal(status, problem.GetProperty("originalStatus").GetInt32());
        Assert.Equal(1m, problem.GetProperty("charged").GetDecimal());
        Assert.StartsWith("req_", problem.GetProperty("originalRequestId").GetString());
        Assert.Equal(1, _runs[path.TrimStart('/')]);
        await AssertChargedAsync(account, 10m, 1);
    }

    [Fact]
    public async Task An_expired_hold_is_never_revived_two_runs_are_two_charges()
    {
        var (account, client) = await CustomerAsync(10m);
        var credits = _app.Services.GetRequiredService<CreditManager>();

        // The first run holds its credit, then outlives its hold: the sweeper releases it.
        var first = SendAsync(client, HttpMethod.Get, "/slow", "slow-1");
        await _firstSlowStarted.Task;
        _time.Advance(TimeSpan.FromMinutes(2));
        await _app.Services.GetRequiredService<ReservationSweeper>().SweepOnceAsync(CancellationToken.None); // or its timer did, when the clock moved
        Assert.Equal(Money.Zero, (await credits.GetBalanceAsync(account)).Reserved);

        // A retry with the same key is a new attempt with its own hold, not the old one revived.
        using var retry = await SendAsync(client, HttpMethod.Get, "/slow", "slow-1");
        Assert.Equal(HttpStatusCode.OK, retry.StatusCode);
        Assert.Equal(Money.FromUnits(9m), (await credits.GetBalanceAsync(account)).Balance);

        // The first run finishes late: it still happened, so it is charged, once, on its own expired hold.
        _releaseFirstSlow.SetResult();
        using var late = await first;
        Assert.Equal(HttpStatusCode.OK, late.StatusCode);
        Assert.Equal(2, _runs["slow"]);
        await AssertChargedAsync(account, 10m, 2);
        var usage = await WaitForUsageAsync(account, 2);
        Assert.All(usage, r => Assert.Equal(UsageOutcomes.Charged, r.Outcome));
        Assert.Equal(2, usage.Select(r => r.RequestId).Distinct().Count());
    }

    private int Count(string name)
    {
        lock (_runs)
        {
            return _runs[name] = _runs.GetValueOrDefault(name) + 1;
        }
    }

    private async Task<(string Account, HttpClient Client)> CustomerAsync(decimal credits)
    {
        var account = await _app.Services.GetRequiredService<AccountManager>().CreateAsync("Test");
        await _app.Services.GetRequiredService<CreditManager>().PostAsync(account.Id, LedgerEntryKind.Grant, Money.FromUnits(credits));
        var key = await _app.Services.GetRequiredService<ApiKeyManager>().CreateAsync(account.Id, "test");
        var client = _app.GetTestClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key.Plaintext);
        return (account.Id, client);
    }

    private static Task<HttpResponseMessage> SendAsync(HttpClient client, HttpMethod method, string path, string key, string? json = null)
    {
        var request = new HttpRequestMessage(method, path);
        request.Headers.Add("Idempotency-Key", key);
        if (json is not null)
        {
            request.Content = new StringContent(json, Encoding.UTF8, "application/json");
        }

        return client.SendAsync(request);
    }

    /// <summary>Exactly <paramref name="calls"/> charges of 1 were made; the ledger sums to the balance and nothing is held.</summary>
    private async Task AssertChargedAsync(string account, decimal granted, int calls)
    {
        var credits = _app.Services.GetRequiredService<CreditManager>();
        Assert.Equal(new CreditBalance(Money.FromUnits(granted - calls), Money.Zero), await credits.GetBalanceAsync(account));
        var ledger = await credits.GetLedgerAsync(account, 100);
        Assert.Equal(Money.FromUnits(granted - calls), ledger.Entries.Aggregate(Money.Zero, (sum, e) => sum + e.Amount));
        Assert.Equal(calls, ledger.Entries.Count(e => e.Kind == LedgerEntryKind.Charge));
    }

    private async Task<IReadOnlyList<UsageRecord>> WaitForUsageAsync(string account, int count)
    {
        var store = _app.Services.GetRequiredService<IUsageStore>();
        for (var i = 0; i < 500; i++)
        {
            var records = (await store.QueryAsync(new UsageQuery { AccountId = account })).Records;
            if (records.Count >= count)
            {
                return records;
            }

            await Task.Delay(10);
        }

        throw new TimeoutException($"Fewer than {count} usage records arrived.");
    }
}
