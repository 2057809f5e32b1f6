using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using UsageBilling.Tests.Shared;

namespace UsageBilling.Tests.Integration;

/// <summary>
/// The usage log under a store that refuses records, is down or hangs: metered calls never wait longer than
/// <see cref="UsageLogOptions.MaxEnqueueWait"/>, a refused record is dead-lettered while the others are written, and
/// an outage loses nothing that fits in the queue.
/// </summary>
public sealed class UsageLogJamTests
{
    /// <summary>A guard against a hang, not a timing assertion: a jammed usage log would never complete.</summary>
    private static readonly TimeSpan HangGuard = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task A_record_the_store_refuses_is_dead_lettered_the_others_are_written_and_calls_never_block()
    {
        var store = new ScriptedUsageStore { Refuses = r => r.Route == "/x/bad" };

        // The queue holds 4 records and a request would wait a minute for room: only a writer that gets past the
        // refused record lets 60 calls through.
        await using var app = await StartAsync(store, o =>
        {
            o.QueueCapacity = 4;
            o.BatchSize = 8;
            o.MaxEnqueueWait = TimeSpan.FromMinutes(1);
        });
        using var deadLettered = Collect(app, "usagebilling.usage_log.dead_lettered");
        var (account, client) = await CreateCallerAsync(app);
        using (client)
        {
            var calls = Enumerable.Range(0, 60).Select(i => client.GetAsync(i % 15 == 7 ? "/x/bad" : "/x")).ToArray();
            var responses = await Task.WhenAll(calls).WaitAsync(HangGuard);
            Assert.All(responses, r => Assert.Equal(HttpStatusCode.OK, r.StatusCode));
        }

        var written = await WaitForRecordsAsync(app, account, 56);
        var deadLetters = app.Services.GetRequiredService<UsageDeadLetters>();
        await WaitUntilAsync(() => deadLetters.Total >= 4);

        Assert.Equal(56, written.Count);
        Assert.All(written, r => Assert.Equal("/x", r.Route));
        Assert.Equal(4, deadLetters.Snapshot().Count);
        Assert.All(deadLetters.Snapshot(), d => Assert.Equal("/x/bad", d.Record.Route));
        Assert.All(deadLetters.Snapshot(), d => Assert.Equal(account, d.Record.AccountId));
        Assert.Equal(4, deadLettered.GetMeasurementSnapshot().EvaluateAsCounter());
        Assert.Equal(0, app.Services.GetRequiredService<UsageLogQueue>().Dropped);
    }

    [Fact]
    public async Task Dead_lettered_records_are_appended_to_a_json_lines_file_when_a_directory_is_set()
    {
        var directory = Path.Combine(Path.GetTempPath(), "usagebilling-dead-letters-" + Guid.NewGuid().ToString("N"));
        try
        {
            var store = new ScriptedUsageStore { Refuses = r => r.Route == "/x/bad" };
            await using var app = await StartAsync(store, o => o.DeadLetterDirectory = directory);
            var (account, client) = await CreateCallerAsync(app);
            using (client)
            {
                Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/x")).StatusCode);
                Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/x/bad")).StatusCode);
                Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/x")).StatusCode);
            }

            await WaitForRecordsAsync(app, account, 2);
            var deadLetters = app.Services.GetRequiredService<UsageDeadLetters>();
            await WaitUntilAsync(() => deadLetters.Total >= 1);

            var lines = await File.ReadAllLinesAsync(Path.Combine(directory, UsageDeadLetters.FileName));
            var line = Assert.Single(lines);
            using var json = JsonDocument.Parse(line);
            var record = json.RootElement.GetProperty("record");
            Assert.Equal("/x/bad", record.GetProperty("route").GetString());
            Assert.Equal(account, record.GetProperty("accountId").GetString());
            Assert.Equal(deadLetters.Snapshot()[0].Record.RequestId, record.GetProperty("requestId").GetString());
            Assert.Equal(typeof(InvalidOperationException).FullName, json.RootElement.GetProperty("error").GetString());
        }
        finally
        {
            if (Directory.Exists(directory))
            {
                Directory.Delete(directory, recursive: true);
            }
        }
    }

    [Fact]
    public async Task Records_queued_while_the_store_is_down_land_once_it_is_back_and_none_is_dead_lettered()
    {
        var store = new ScriptedUsageStore { Down = true };
        await using var app = await StartAsync(store, o => o.QueueCapacity = 100);
        var (account, client) = await CreateCallerAsync(app);
        using (client)
        {
            for (var i = 0; i < 20; i++)
            {
                Assert.Equal(HttpStatusCode.OK, (await client.GetAsync(i % 2 == 0 ? "/x" : "/x/bad")).StatusCode);
            }
        }

        // The writer has given up on whole batches more than once and asked whether the store answers: it does not.
        await WaitUntilAsync(() => store.FailedProbes >= 3);
        store.Down = false;

        var written = await WaitForRecordsAsync(app, account, 20);
        Assert.Equal(20, written.Count);
        Assert.Equal(0, app.Services.GetRequiredService<UsageDeadLetters>().Total);
        Assert.Equal(0, app.Services.GetRequiredService<UsageLogQueue>().Dropped);
    }

    [Fact]
    public async Task With_the_queue_full_and_the_store_hung_calls_complete_and_each_dropped_record_is_counted()
    {
        var store = new ScriptedUsageStore();
        store.Hang();
        await using var app = await StartAsync(store, o =>
        {
            o.QueueCapacity = 2;
            o.BatchSize = 1;
            o.MaxEnqueueWait = TimeSpan.FromMilliseconds(50);
        });
        using var dropped = Collect(app, "usagebilling.usage_log.dropped");
        var (_, client) = await CreateCallerAsync(app);
        try
        {
            using (client)
            {
                // The writer takes the first record and hangs in the store; two more fill the queue.
                Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/x")).StatusCode);
                await WaitUntilAsync(() => store.Appends >= 1);
                Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/x")).StatusCode);
                Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/x")).StatusCode);
                Assert.Equal(0, dropped.GetMeasurementSnapshot().EvaluateAsCounter());

                for (var i = 0; i < 8; i++)
                {
                    var response = await client.GetAsync("/x").WaitAsync(HangGuard);
                    Assert.Equal(HttpStatusCode.OK, response.StatusCode);
                }
            }

            Assert.Equal(8, dropped.GetMeasurementSnapshot().EvaluateAsCounter());
            Assert.Equal(8, app.Services.GetRequiredService<UsageLogQueue>().Dropped);
        }
        finally
        {
            store.Release();
        }
    }

    [Fact]
    public void Client_strings_are_normalized_before_a_record_is_queued()
    {
        var clean = new UsageRecord
        {
            RequestId = "req_1", Timestamp = DateTimeOffset.UnixEpoch, Method = "GET", Route = "/v1/x", StatusCode = 200, DurationMs = 1, Cost = Money.Zero,
            IdempotencyKey = "key-1", Model = "gpt-4o",
        };
        Assert.Same(clean, UsageLogQueue.Normalize(clean));

        var hostile = clean with { Route = "/v1/\0x", Model = "gpt\u00004o\ud800", IdempotencyKey = "k\0" + new string('k', 2_000), KeyId = "litellm:\u0001a" };
        var normalized = UsageLogQueue.Normalize(hostile);

        Assert.Equal("/v1/\uFFFDx", normalized.Route);
        Assert.Equal("gpt\uFFFD4o\uFFFD", normalized.Model);
        Assert.Equal("litellm:\uFFFDa", normalized.KeyId);
        Assert.StartsWith("k\uFFFDkkk", normalized.IdempotencyKey, StringComparison.Ordinal);
        Assert.Equal(UsageLogQueue.MaxIdLength, normalized.IdempotencyKey!.Length);
        Assert.Equal(clean.RequestId, normalized.RequestId);
    }

    [Theory]
    [InlineData(@"call\u00001")]
    [InlineData(@"call\u001f1")]
    [InlineData(@"call\ud8001")]
    public void A_litellm_entry_whose_id_has_control_characters_is_skipped_not_rewritten(string escapedId)
    {
        using var entry = JsonDocument.Parse($$"""{"id":"{{escapedId}}","model":"gpt-4o","prompt_tokens":1,"completion_tokens":1}""");

        Assert.Null(LiteLlmPayload.TryRead(entry.RootElement, DateTimeOffset.UnixEpoch, out _, out var reason));
        Assert.Contains("'id'", reason, StringComparison.Ordinal);
    }

    private static async Task<WebApplication> StartAsync(ScriptedUsageStore store, Action<UsageLogOptions> configure)
    {
        var builder = WebApplication.CreateBuilder();
        builder.WebHost.UseTestServer();
        builder.Logging.ClearProviders();
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(5));
        builder.Services.AddUsageBilling(o =>
        {
            o.Plans.Limits["default"] = new RequestLimits { RequestsPerDay = 10_000 };
            o.UsageLog.FlushInterval = TimeSpan.FromMilliseconds(10);
            o.UsageLog.MaxRetryDelay = TimeSpan.FromMilliseconds(20);
            configure(o.UsageLog);
        });
        builder.Services.RemoveAll<IUsageStore>();
        builder.Services.AddSingleton<IUsageStore>(sp => store.Over(sp.GetRequiredService<InMemoryUsageStore>()));

        var app = builder.Build();
        app.UseAuthentication();
        app.UseAuthorization();
        app.UseUsageBilling();
        app.MapGet("/x", () => "ok").RequireApiKey().WithCost(0.01m);
        app.MapGet("/x/bad", () => "ok").RequireApiKey().WithCost(0.01m);
        await app.StartAsync();
        return app;
    }

    private static async Task<(string Account, HttpClient Client)> CreateCallerAsync(WebApplication app)
    {
        var account = await app.Services.GetRequiredService<AccountManager>().CreateAsync("Acme");
        await app.Services.GetRequiredService<CreditManager>().PostAsync(account.Id, LedgerEntryKind.Grant, Money.FromUnits(100m), "seed");
        var key = await app.Services.GetRequiredService<ApiKeyManager>().CreateAsync(account.Id, "test");
        var client = app.GetTestClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key.Plaintext);
        return (account.Id, client);
    }

    private static MetricCollector<long> Collect(WebApplication app, string instrument)
        => new(app.Services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>(), UsageBillingMetrics.MeterName, instrument);

    /// <summary>The records written for <paramref name="account"/>, read from the in-memory store under the scripted one.</summary>
    private static async Task<IReadOnlyList<UsageRecord>> WaitForRecordsAsync(WebApplication app, string account, int count)
    {
        var inner = app.Services.GetRequiredService<InMemoryUsageStore>();
        IReadOnlyList<UsageRecord> records = [];
        await WaitUntilAsync(async () =>
        {
            records = (await inner.QueryAsync(new UsageQuery { AccountId = account, Limit = 1_000 })).Records;
            return records.Count >= count;
        });
        return records;
    }

    private static Task WaitUntilAsync(Func<bool> condition) => Polling.WaitUntilAsync(condition, HangGuard, "The condition did not come true.");

    private static Task WaitUntilAsync(Func<Task<bool>> condition) => Polling.WaitUntilAsync(condition, HangGuard, "The condition did not come true.");

    /// <summary>A usage store that refuses some records (as PostgreSQL refuses a NUL in text), is down, or hangs.</summary>
    private sealed class ScriptedUsageStore : IUsageStore
    {
        private IUsageStore? _inner;
        private TaskCompletionSource? _hang;
        private int _failedProbes;
        private int _appends;

        /// <summary>A batch holding a record this matches is refused whole, as a database refuses a statement.</summary>
        public Func<UsageRecord, bool> Refuses { get; init; } = _ => false;

        /// <summary>While set, every call fails as a refused connection does.</summary>
        public volatile bool Down;

        public int FailedProbes => Volatile.Read(ref _failedProbes);

        public int Appends => Volatile.Read(ref _appends);

        public ScriptedUsageStore Over(IUsageStore inner)
        {
            _inner = inner;
            return this;
        }

        public void Hang() => _hang = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        public void Release() => _hang?.TrySetResult();

        public async ValueTask AppendAsync(IReadOnlyList<UsageRecord> records, CancellationToken cancellationToken = default)
        {
            Interlocked.Increment(ref _appends);
            if (_hang is { } hang)
            {
                await hang.Task.WaitAsync(cancellationToken);
            }

            if (Down)
            {
                throw new IOException("Connection refused.");
            }

            if (records.Any(Refuses))
            {
                throw new InvalidOperationException("The store refused a value in this batch.");
            }

            await _inner!.AppendAsync(records, cancellationToken);
        }

        public ValueTask<UsagePage> QueryAsync(UsageQuery query, CancellationToken cancellationToken = default)
        {
            if (Down)
            {
                Interlocked.Increment(ref _failedProbes);
                throw new IOException("Connection refused.");
            }

            return _inner!.QueryAsync(query, cancellationToken);
        }

        public ValueTask<IReadOnlyList<UsageSummary>> SummarizeAsync(UsageSummaryQuery query, CancellationToken cancellationToken = default)
            => _inner!.SummarizeAsync(query, cancellationToken);
    }
}
