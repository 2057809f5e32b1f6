using System.Collections.Concurrent;
using System.Diagnostics.Metrics;

namespace UsageBilling;

/// <summary>UsageBilling's instruments, on the meter <c>UsageBilling</c>.</summary>
internal sealed class UsageBillingMetrics
{
    public const string MeterName = "UsageBilling";

    /// <summary>How many distinct model names the <c>usagebilling.model</c> tag takes; later ones are reported as <see cref="OtherModel"/>.</summary>
    internal const int MaxModelTagValues = 100;

    /// <summary>The <c>usagebilling.model</c> tag value of a model past <see cref="MaxModelTagValues"/>.</summary>
    internal const string OtherModel = "other";

    private readonly ConcurrentDictionary<string, byte> _modelTags = new(StringComparer.OrdinalIgnoreCase);

    private readonly Counter<long> _metered;
    private readonly Counter<long> _rejected;
    private readonly Counter<double> _charged;
    private readonly Counter<long> _keysRefused;
    private readonly Counter<long> _usageWritten;
    private readonly Counter<long> _usageWriteFailures;
    private readonly Counter<long> _usageDropped;
    private readonly Counter<long> _usageDeadLettered;
    private readonly Counter<long> _reservationsExpired;
    private readonly Counter<long> _unknownModels;
    private readonly Counter<long> _tokens;
    private readonly Counter<long> _completionsDeferred;
    private readonly Histogram<double> _meteringDuration;
    private readonly Histogram<double> _storeDuration;

    /// <summary>Bucket boundaries for sub-second durations, in seconds (from 0.1 ms).</summary>
    private static readonly double[] DurationBuckets = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
    private readonly Counter<long> _catalogChanges;

    public UsageBillingMetrics(IMeterFactory meterFactory)
    {
        var meter = meterFactory.Create(MeterName);
        _metered = meter.CreateCounter<long>("usagebilling.requests.metered", "{request}", "Requests that reached a metered endpoint.");
        _rejected = meter.CreateCounter<long>("usagebilling.requests.rejected", "{request}", "Metered requests refused, by reason.");
        _charged = meter.CreateCounter<double>("usagebilling.credits.charged", "{credit}", "Credits charged for metered requests, in currency units.");
        _keysRefused = meter.CreateCounter<long>("usagebilling.api_keys.refused", "{request}", "Requests whose API key was refused, by reason.");
        _usageWritten = meter.CreateCounter<long>("usagebilling.usage_log.written", "{record}", "Usage records written to the store.");
        _usageWriteFailures = meter.CreateCounter<long>("usagebilling.usage_log.write_failures", "{batch}", "Failed usage-log batch writes (each is retried).");
        _usageDropped = meter.CreateCounter<long>("usagebilling.usage_log.dropped", "{record}", "Usage records dropped because the queue stayed full for UsageLog:MaxEnqueueWait.");
        _usageDeadLettered = meter.CreateCounter<long>("usagebilling.usage_log.dead_lettered", "{record}", "Usage records the store refused on their own, set aside instead of written.");
        _reservationsExpired = meter.CreateCounter<long>("usagebilling.reservations.expired", "{reservation}", "Reservations released by the sweeper.");
        _unknownModels = meter.CreateCounter<long>("usagebilling.llm.unknown_models", "{request}", "LLM calls naming a model without a price, by model and policy.");
        _tokens = meter.CreateCounter<long>("usagebilling.llm.tokens", "{token}", "LLM tokens billed, by kind (input, cached_input, output).");
        _meteringDuration = meter.CreateHistogram("usagebilling.metering.duration", "s",
            "Time UsageBilling adds to a metered request, by phase (quote, admit, complete); the endpoint's own time is not in it.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = DurationBuckets });
        _storeDuration = meter.CreateHistogram("usagebilling.store.duration", "s", "Duration of billing store calls, by operation.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = DurationBuckets });
        _catalogChanges = meter.CreateCounter<long>("usagebilling.pricing.catalog_changes", "{model}", "Models whose LiteLLM catalogue price changed or was lost on a reload, by model and kind.");
        _completionsDeferred = meter.CreateCounter<long>("usagebilling.completions.deferred", "{write}", "Settles, releases and counter corrections that failed on the request path and are retried until they land.");
    }

    public void RequestMetered() => _metered.Add(1);

    internal bool StoreDurationEnabled => _storeDuration.Enabled;

    /// <summary>Starts timing a store call named <paramref name="operation"/> (a fixed name such as <c>credits.reserve</c>).</summary>
    public StoreCallScope StoreCall(string operation) => new(this, operation);

    internal void StoreCallFinished(string operation, TimeSpan elapsed)
        => _storeDuration.Record(elapsed.TotalSeconds, new KeyValuePair<string, object?>("usagebilling.store.operation", operation));

    /// <summary>Records the time a metering phase (<c>quote</c>, <c>admit</c>, <c>complete</c>) took since <paramref name="started"/>.</summary>
    public void MeteringPhase(string phase, long started)
    {
        if (_meteringDuration.Enabled)
        {
            _meteringDuration.Record(System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalSeconds, new KeyValuePair<string, object?>("usagebilling.phase", phase));
        }
    }

    public void RequestRejected(string reason)
    {
        if (_rejected.Enabled)
        {
            _rejected.Add(1, new KeyValuePair<string, object?>("usagebilling.reason", reason));
        }
    }

    public void Charged(Money amount)
    {
        if (_charged.Enabled && !amount.IsZero)
        {
            _charged.Add((double)amount.ToUnits());
        }
    }

    public void KeyRejected(ApiKeyFailure failure)
    {
        if (_keysRefused.Enabled)
        {
            _keysRefused.Add(1, new KeyValuePair<string, object?>("usagebilling.reason", failure.ToString().ToLowerInvariant()));
        }
    }

    public void UsageWritten(int count) => _usageWritten.Add(count);

    public void UsageWriteFailed() => _usageWriteFailures.Add(1);

    public void UsageDropped() => _usageDropped.Add(1);

    public void UsageDeadLettered() => _usageDeadLettered.Add(1);

    public void CompletionDeferred() => _completionsDeferred.Add(1);

    public void ReservationsExpired(int count) => _reservationsExpired.Add(count);

    public void UnknownModel(string model, UnknownModelPolicy policy)
    {
        if (_unknownModels.Enabled)
        {
            _unknownModels.Add(1, new KeyValuePair<string, object?>("usagebilling.model", ModelTag(model)), new KeyValuePair<string, object?>("usagebilling.policy", policy.ToString()));
        }
    }

    public void CatalogPriceChanged(string model, string kind)
    {
        if (_catalogChanges.Enabled)
        {
            _catalogChanges.Add(1, new KeyValuePair<string, object?>("usagebilling.model", ModelTag(model)), new KeyValuePair<string, object?>("usagebilling.kind", kind));
        }
    }

    public void TokensBilled(LlmUsage usage)
    {
        if (_tokens.Enabled)
        {
            _tokens.Add(usage.InputTokens, new KeyValuePair<string, object?>("usagebilling.token.kind", "input"));
            _tokens.Add(usage.CachedInputTokens, new KeyValuePair<string, object?>("usagebilling.token.kind", "cached_input"));
            if (usage.CacheWriteTokens > 0)
            {
                _tokens.Add(usage.CacheWriteTokens, new KeyValuePair<string, object?>("usagebilling.token.kind", "cache_write"));
            }
            _tokens.Add(usage.OutputTokens, new KeyValuePair<string, object?>("usagebilling.token.kind", "output"));
        }
    }

    /// <summary>
    /// The tag value for a client-supplied model name: normalized, and one of at most <see cref="MaxModelTagValues"/>
    /// distinct values, so a client sending random names cannot grow the metric without bound.
    /// </summary>
    internal string ModelTag(string model)
    {
        var normalized = ClientStrings.Normalize(model).Trim().ToLowerInvariant();
        if (_modelTags.ContainsKey(normalized))
        {
            return normalized;
        }

        if (_modelTags.Count >= MaxModelTagValues)
        {
            return OtherModel;
        }

        _modelTags.TryAdd(normalized, 0);
        return normalized;
    }
}
