using System.Diagnostics;
using System.Net;
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

        var spans = new List<Activity>();
        using var listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == "UsageBilling",
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = activity => { lock (spans) { spans.Add(activity); } },
        };
        ActivitySource.AddActivityListener(listener);

        using var client = factory.CreateKeyClient(key);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/v1/quote")).StatusCode);

        Activity[] mine, all;
        lock (spans)
        {
            all = [.. spans];
            mine = spans.Where(s => s.RootId == spans.Single(c => c.OperationName == "usagebilling.metered_call" && (string?)c.GetTagItem("usagebilling.key_id") == keyId).RootId).ToArray();
        }

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
    public void Without_a_listener_no_span_is_started_and_store_calls_go_straight_through()
    {
        // Runs in this class, after or before the listener test, never beside it (xunit runs a class's tests one at a time).
        Assert.False(UsageBillingActivitySource.Source.HasListeners());
        Assert.False(StoreCalls.IsObserved(null));
        Assert.Null(UsageBillingActivitySource.Source.StartActivity(UsageBillingActivitySource.MeteredCall));
    }
}
