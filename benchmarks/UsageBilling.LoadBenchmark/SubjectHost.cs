using System.Diagnostics;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace UsageBilling.LoadBenchmark;

/// <summary>
/// The host of one subject, run in its own process (<c>serve &lt;subject&gt; [connection string]</c>) so that its CPU time
/// and allocations are its own: Kestrel on 127.0.0.1 at a free port, <c>GET /x</c> (bare, or API key + flat price 0.000001
/// on a plan with request limits per second, minute, hour, day and month) — for the LLM subjects <c>POST /x</c>, an OpenAI
/// chat completion metered by its tokens, with a token limit and a monthly budget too — and <c>GET /_bench/stats</c> (unmetered).
/// Prints one line <c>READY {json}</c> (port and API keys), then serves until its standard input closes.
/// </summary>
internal static class SubjectHost
{
    public const string ReadyPrefix = "READY ";
    public const string PlanName = "load";
    public const decimal Price = 0.000001m;

    /// <summary>The LLM subjects' model: $0.10 and $0.40 per million input and output tokens.</summary>
    public const string LlmModel = "bench-1";

    /// <summary>What the load generator sends to an LLM subject: a short chat completion request with an output cap.</summary>
    public const string LlmRequest = """{"model":"bench-1","messages":[{"role":"user","content":"Answer with one word: is this a load test?"}],"max_tokens":16}""";

    /// <summary>What an LLM subject answers: an OpenAI chat completion with its usage (fewer tokens than estimated).</summary>
    private const string LlmResponse = """{"id":"chatcmpl-bench","object":"chat.completion","created":1764979200,"model":"bench-1","choices":[{"index":0,"message":{"role":"assistant","content":"Yes."},"finish_reason":"stop"}],"usage":{"prompt_tokens":17,"completion_tokens":2,"total_tokens":19}}""";

    private static long s_served;
    private static long s_failed;

    public static async Task<int> RunAsync(Subject subject, string? connectionString)
    {
        using var allocations = AllocationSampler.StartIfAsked();
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { ContentRootPath = AppContext.BaseDirectory });
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");

        if (subject.Backend != SubjectBackend.None)
        {
            StoreTimings.Listen();
            const long generous = 1_000_000_000_000;
            // Options may be set for a run through the environment, which the subject process inherits, for example
            // UsageBilling__Idempotency__ReplayFor=00:00:02 (how long the in-memory credit store keeps finished holds).
            var billing = builder.Services.AddUsageBilling(builder.Configuration.GetSection("UsageBilling"), o =>
            {
                o.Plans.Limits[PlanName] = new RequestLimits
                {
                    RequestsPerSecond = generous,
                    RequestsPerMinute = generous,
                    RequestsPerHour = generous,
                    RequestsPerDay = generous,
                    MonthlyRequests = generous,
                    TokensPerMinute = subject.Llm ? generous : null,
                };
                if (subject.Llm)
                {
                    o.Pricing.Models.Add(new ModelPriceOptions { Model = LlmModel, Input = 0.1m, Output = 0.4m });
                }
            });
            switch (subject.Backend)
            {
                case SubjectBackend.Sqlite:
                    // USAGEBILLING_BENCH_SQLITE_FLUSH=0: synchronous=NORMAL (no flush per commit), to measure what it saves.
                    billing.UseEntityFrameworkCore(ef => ef.UseSqlite(connectionString).AddInterceptors(StatementCounter.Interceptors), o =>
                    {
                        o.CreateDatabaseOnStartup = true;
                        o.SqliteFlushEveryCommit = Environment.GetEnvironmentVariable("USAGEBILLING_BENCH_SQLITE_FLUSH") != "0";
                    });
                    break;
                case SubjectBackend.Postgres:
                    StatementCounter.ListenToNpgsql();
                    billing.UseEntityFrameworkCore(ef => ef.UseNpgsql(connectionString).AddInterceptors(StatementCounter.Interceptors),
                        o => o.CreateDatabaseOnStartup = true);
                    break;
            }
        }

        await using var app = builder.Build();

        // Counts the metered calls answered (first, so that it sees every answer, refusals included).
        app.Use(async (context, next) =>
        {
            await next(context);
            if (context.Request.Path == "/x")
            {
                Interlocked.Increment(ref context.Response.StatusCode == StatusCodes.Status200OK ? ref s_served : ref s_failed);
            }
        });
        if (subject.Backend == SubjectBackend.None)
        {
            app.MapGet("/x", () => "ok");
        }
        else
        {
            app.UseAuthentication();
            app.UseAuthorization();
            app.UseUsageBilling();
            if (subject.Llm)
            {
                app.MapPost("/x", () => Results.Text(LlmResponse, "application/json")).RequireApiKey()
                    .MeterLlmUsage(LlmApiFormat.OpenAIChatCompletions, provider: "openai");
            }
            else
            {
                var endpoint = app.MapGet("/x", () => "ok").RequireApiKey();
                if (subject.Metered)
                {
                    endpoint.WithCost(Price);
                }
            }
        }

        var statsCalls = 0;
        app.MapGet("/_bench/stats", () =>
        {
            // The driver asks at the start and at the end of the measured window: sample allocations in between.
            if (Interlocked.Increment(ref statsCalls) == 1)
            {
                allocations?.Reset();
            }
            else
            {
                allocations?.Report(Console.Error);
            }

            return Results.Json(Snapshot());
        });

        await app.StartAsync();
        var port = new Uri(app.Urls.First()).Port;
        var keys = await CreateKeysAsync(app, subject);
        Console.WriteLine(ReadyPrefix + JsonSerializer.Serialize(new ReadyMessage(port, keys)));

        while (await Console.In.ReadLineAsync() is { } line && line != "stop")
        {
        }

        await app.StopAsync();
        return 0;
    }

    private static async Task<string[]> CreateKeysAsync(WebApplication app, Subject subject)
    {
        if (subject.Backend == SubjectBackend.None)
        {
            return ["sk-bare-endpoint-ignores-this"];
        }

        var accounts = app.Services.GetRequiredService<AccountManager>();
        var credits = app.Services.GetRequiredService<CreditManager>();
        var apiKeys = app.Services.GetRequiredService<ApiKeyManager>();
        var keys = new string[subject.Accounts];
        for (var i = 0; i < keys.Length; i++)
        {
            var account = await accounts.CreateAsync($"load-{i}", PlanName);
            await credits.PostAsync(account.Id, LedgerEntryKind.Grant, Money.FromUnits(1_000_000m));
            if (subject.Llm)
            {
                await accounts.SetBudgetAsync(account.Id, new SpendBudget { Monthly = Money.FromUnits(1_000_000m) });
            }

            keys[i] = (await apiKeys.CreateAsync(account.Id, "load")).Plaintext;
        }

        return keys;
    }

    private static ServerStats Snapshot()
    {
        using var process = Process.GetCurrentProcess();
        return new ServerStats(
            Interlocked.Read(ref s_served),
            Interlocked.Read(ref s_failed),
            GC.GetTotalAllocatedBytes(precise: false),
            process.TotalProcessorTime.Ticks,
            process.WorkingSet64,
            GC.CollectionCount(0),
            GC.CollectionCount(2),
            new Dictionary<string, long>(StatementCounter.Snapshot().Concat(StoreTimings.Snapshot()))
            {
                ["runtime.lockContentions"] = Monitor.LockContentionCount,
                ["runtime.threadPoolWorkItems"] = ThreadPool.CompletedWorkItemCount,
                ["runtime.threadPoolThreads"] = ThreadPool.ThreadCount,
                ["runtime.gcPauseTicks"] = GC.GetTotalPauseDuration().Ticks,
            },
            StatementCounter.SnapshotShapes());
    }
}

/// <summary>The subject host's first line: where it listens and the keys to call it with.</summary>
internal sealed record ReadyMessage(int Port, string[] Keys);

/// <summary>Cumulative counters of a subject host; the driver subtracts two of them.</summary>
internal sealed record ServerStats(long Served, long Failed, long AllocatedBytes, long CpuTicks, long WorkingSet, int Gen0, int Gen2,
    Dictionary<string, long> Database, Dictionary<string, long> StatementShapes);
