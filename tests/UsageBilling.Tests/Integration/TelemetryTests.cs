using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;

namespace UsageBilling.Tests.Integration;

/// <summary>Spans on the <c>UsageBilling</c> activity source and the duration histograms of a metered call.</summary>
public sealed class TelemetryTests
{
    [Fact]
    public async Task A_metered_call_has_a_span_per_phase_and_store_call_and_records_the_histograms_with_bounded_tags()
    {
        using var factory = new MeteredApiFactory();
        var (accountId, key, keyId) = await factory.CreateCustomerAsync(credits: 1m);
        var meterFactory = factory.Services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>();
        using var storeDuration = new MetricCollector<double>(meterFactory, UsageBillingMetrics.MeterName, "usagebilling.store.duration");
        using var meteringDuration = new MetricCollector<double>(meterFactory, UsageBillingMetrics.MeterName, "usagebilling.metering.duration");
        using var spans = new SpanRecorder();

        using var client = factory.CreateKeyClient(key);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/v1/quote")).StatusCode);

        var all = spans.Stopped();
        var mine = all.Where(s => s.RootId == all.Single(c => c.OperationName == "usagebilling.metered_call" && (string?)c.GetTagItem("usagebilling.key_id") == keyId).RootId).ToArray();

        var call = mine.Single(s => s.OperationName == "usagebilling.metered_call");
        Assert.Equal(accountId, call.GetTagItem("usagebilling.account_id"));
        Assert.Equal("admitted", call.GetTagItem("usagebilling.admission"));
        foreach (var phase in new[] { "usagebilling.quote", "usagebilling.admit", "usagebilling.complete" })
        {
            Assert.Contains(mine, s => s.OperationName == phase);
        }

        Assert.Contains(mine, s => s.OperationName == "usagebilling.store.credits.reserve");
        Assert.Contains(mine, s => s.OperationName == "usagebilling.store.counters.increment");
        // The group commit writes on the writer's own trace, not necessarily under the request's span.
        Assert.Contains(all, s => s.OperationName == "usagebilling.store.completions.write");

        var phases = meteringDuration.GetMeasurementSnapshot().Select(m => (string)m.Tags["usagebilling.phase"]!).ToHashSet();
        Assert.Superset(new HashSet<string> { "admit", "complete" }, phases);
        var stores = storeDuration.GetMeasurementSnapshot();
        Assert.Contains(stores, m => (string?)m.Tags["usagebilling.store.operation"] == "credits.reserve" && m.Value > 0);
        // Metric tags are fixed names: never an id.
        Assert.All(stores.Concat(meteringDuration.GetMeasurementSnapshot()), m => Assert.DoesNotContain(m.Tags.Values, v => v is string s && (s.Contains(accountId, StringComparison.Ordinal) || s.Contains(keyId, StringComparison.Ordinal))));
    }

    [Fact]
    public async Task Every_store_call_is_spanned_and_timed_once_under_a_fixed_operation_name()
    {
        using var factory = new MeteredApiFactory();
        var meterFactory = factory.Services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>();
        using var storeDuration = new MetricCollector<double>(meterFactory, UsageBillingMetrics.MeterName, "usagebilling.store.duration");
        using var spans = new SpanRecorder();

        // Accounts, credits, keys, a metered call, the usage log, the self-service and admin reads, prices, provider keys
        // and the health check: every store, through the routes and managers a user calls.
        var (accountId, key, _) = await factory.CreateCustomerAsync(credits: 1m);
        using (var client = factory.CreateKeyClient(key))
        {
            Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/v1/quote")).StatusCode);
            Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/v1/billing/usage")).StatusCode);
            Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/v1/billing/limits")).StatusCode);
        }

        await factory.WaitForUsageAsync(accountId, 1);
        using (var admin = factory.CreateAdminClient())
        {
            Assert.Equal(HttpStatusCode.OK, (await admin.GetAsync($"/admin/billing/accounts/{accountId}/keys")).StatusCode);
            Assert.Equal(HttpStatusCode.OK, (await admin.GetAsync("/admin/billing/analytics/quotas")).StatusCode);
            Assert.Equal(HttpStatusCode.OK, (await admin.PutAsJsonAsync("/admin/billing/pricing/models/gpt-telemetry", new { input = 1m, output = 2m })).StatusCode);
            Assert.Equal(HttpStatusCode.OK, (await admin.GetAsync("/admin/billing/pricing/models")).StatusCode);
        }

        var services = factory.Services;
        await services.GetRequiredService<ProviderKeyManager>().SetAsync(accountId, "openai", "sk-telemetry0123456789abcdefXYZ");
        Assert.NotNull(await services.GetRequiredService<ProviderKeyManager>().GetActiveKeyAsync(accountId, "openai"));
        using (var health = factory.CreateClient())
        {
            Assert.Equal(HttpStatusCode.OK, (await health.GetAsync("/health")).StatusCode);
        }

        var all = spans.Stopped();

        var measured = storeDuration.GetMeasurementSnapshot().Select(m => (string)m.Tags["usagebilling.store.operation"]!).ToList();
        foreach (var operation in new[]
        {
            "accounts.create", "accounts.find", "keys.create", "keys.find_by_hash", "keys.find", "keys.list", "keys.list_by_account",
            "credits.post", "credits.reserve", "credits.balance", "counters.increment", "counters.get", "completions.write",
            "usage.append", "usage.summarize", "prices.list", "prices.upsert", "provider_keys.upsert", "provider_keys.find",
        })
        {
            Assert.True(all.Any(s => s.OperationName == "usagebilling.store." + operation), $"no span usagebilling.store.{operation}");
            Assert.True(measured.Contains(operation), $"no usagebilling.store.duration measurement for {operation}");
        }

        // Timed once: no store span sits directly under a span of the same operation (a call timed by its caller and again by a wrapper).
        Assert.DoesNotContain(all, s => s.OperationName.StartsWith("usagebilling.store.", StringComparison.Ordinal) && s.Parent?.OperationName == s.OperationName);
        // Bounded tags: a fixed vocabulary, never an id.
        Assert.All(measured, operation => Assert.Matches("^[a-z_]+\\.[a-z_]+$", operation));
        Assert.DoesNotContain(measured, operation => operation.Contains(accountId, StringComparison.Ordinal));
    }

    [Fact]
    public void Without_a_listener_no_span_is_started_and_store_calls_go_straight_through()
    {
        // Runs in this class, after or before the listener test, never beside it (xunit runs a class's tests one at a time).
        Assert.False(UsageBillingActivitySource.Source.HasListeners());
        Assert.False(StoreCalls.IsObserved(null));
        Assert.Null(UsageBillingActivitySource.Source.StartActivity(UsageBillingActivitySource.MeteredCall));
    }

    /// <summary>Records every span of the <c>UsageBilling</c> source that stops while it listens.</summary>
    private sealed class SpanRecorder : IDisposable
    {
        private readonly List<Activity> _spans = [];
        private readonly ActivityListener _listener;

        public SpanRecorder()
        {
            _listener = new ActivityListener
            {
                ShouldListenTo = source => source.Name == "UsageBilling",
                Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
                ActivityStopped = activity => { lock (_spans) { _spans.Add(activity); } },
            };
            ActivitySource.AddActivityListener(_listener);
        }

        public Activity[] Stopped()
        {
            lock (_spans)
            {
                return [.. _spans];
            }
        }

        public void Dispose() => _listener.Dispose();
    }
}
