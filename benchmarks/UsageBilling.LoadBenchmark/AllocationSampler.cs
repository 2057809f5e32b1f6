using System.Collections.Concurrent;
using System.Diagnostics.Tracing;

namespace UsageBilling.LoadBenchmark;

/// <summary>
/// With <c>USAGEBILLING_BENCH_ALLOCATIONS=1</c> in the environment, the subject host samples the runtime's allocation
/// ticks (one event about every 100 KB allocated, naming the type of the object that crossed the mark) and writes the
/// types that account for most of them to standard error when it stops: where the allocations per call come from.
/// </summary>
internal sealed class AllocationSampler : EventListener
{
    private const int GcKeyword = 0x1;
    private readonly ConcurrentDictionary<string, long> _bytes = new(StringComparer.Ordinal);
    private long _total;

    public static AllocationSampler? StartIfAsked()
        => Environment.GetEnvironmentVariable("USAGEBILLING_BENCH_ALLOCATIONS") == "1" ? new AllocationSampler() : null;

    /// <summary>Forgets what was sampled so far (call when the measured window starts).</summary>
    public void Reset()
    {
        _bytes.Clear();
        Interlocked.Exchange(ref _total, 0);
    }

    public void Report(TextWriter writer, int top = 40)
    {
        var total = Math.Max(1, Interlocked.Read(ref _total));
        writer.WriteLine($"allocation ticks: {total / 1048576.0:N0} MB sampled");
        foreach (var (type, bytes) in _bytes.OrderByDescending(p => p.Value).Take(top))
        {
            writer.WriteLine($"  {bytes * 100.0 / total,5:0.0} %  {type}");
        }
    }

    protected override void OnEventSourceCreated(EventSource eventSource)
    {
        if (eventSource.Name == "Microsoft-Windows-DotNETRuntime")
        {
            EnableEvents(eventSource, EventLevel.Verbose, (EventKeywords)GcKeyword);
        }
    }

    protected override void OnEventWritten(EventWrittenEventArgs eventData)
    {
        if (!eventData.EventName?.StartsWith("GCAllocationTick", StringComparison.Ordinal) ?? true || eventData.Payload is null)
        {
            return;
        }

        var names = eventData.PayloadNames!;
        var type = names.IndexOf("TypeName") is var t and >= 0 ? eventData.Payload![t] as string ?? "?" : "?";
        var amount = names.IndexOf("AllocationAmount64") is var a and >= 0 ? Convert.ToInt64(eventData.Payload![a], System.Globalization.CultureInfo.InvariantCulture) : 100_000;
        _bytes.AddOrUpdate(type, amount, (_, old) => old + amount);
        Interlocked.Add(ref _total, amount);
    }
}
