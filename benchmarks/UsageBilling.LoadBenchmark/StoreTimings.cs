using System.Collections.Concurrent;
using System.Diagnostics.Metrics;

namespace UsageBilling.LoadBenchmark;

/// <summary>
/// Sums UsageBilling's own duration histograms in the subject host: <c>usagebilling.store.duration</c> by operation
/// (one admission group, one completion batch, …) and <c>usagebilling.metering.duration</c> by phase (what a caller
/// waited to be admitted, to be completed). The driver divides two snapshots: how many groups per call, how long each.
/// </summary>
internal static class StoreTimings
{
    // By instrument and tag (both fixed strings): the name is made only for a snapshot, so that measuring allocates
    // nothing per call in the host it measures.
    private static readonly ConcurrentDictionary<(string Instrument, string? Tag), Totals> s_totals = new();
    private static MeterListener? s_listener;

    public static void Listen()
    {
        s_listener = new MeterListener
        {
            InstrumentPublished = static (instrument, listener) =>
            {
                if (instrument.Meter.Name == "UsageBilling" && instrument.Name is "usagebilling.store.duration" or "usagebilling.metering.duration")
                {
                    listener.EnableMeasurementEvents(instrument);
                }
            },
        };
        s_listener.SetMeasurementEventCallback<double>(static (instrument, seconds, tags, _) =>
        {
            var totals = s_totals.GetOrAdd((instrument.Name, tags.Length > 0 ? tags[0].Value as string : null), static _ => new Totals());
            Interlocked.Increment(ref totals.Count);
            Interlocked.Add(ref totals.Microseconds, (long)(seconds * 1_000_000));
        });
        s_listener.Start();
    }

    /// <summary><c>timing.&lt;name&gt;.count</c> and <c>timing.&lt;name&gt;.us</c> for every operation and phase seen so far.</summary>
    public static IEnumerable<KeyValuePair<string, long>> Snapshot()
    {
        foreach (var ((instrument, tag), totals) in s_totals)
        {
            var name = (instrument == "usagebilling.store.duration" ? "store." : "phase.") + (tag ?? "?");
            yield return new("timing." + name + ".count", Interlocked.Read(ref totals.Count));
            yield return new("timing." + name + ".us", Interlocked.Read(ref totals.Microseconds));
        }
    }

    private sealed class Totals
    {
        public long Count;
        public long Microseconds;
    }
}
