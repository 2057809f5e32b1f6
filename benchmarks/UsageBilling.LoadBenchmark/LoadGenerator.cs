using System.Diagnostics;
using System.Net;
using System.Runtime.CompilerServices;

namespace UsageBilling.LoadBenchmark;

/// <summary>
/// A closed-loop load generator: <c>connections</c> loops, each with its own HTTP/1.1 connection (SocketsHttpHandler), each
/// sending <c>GET /x</c> as soon as the previous answer arrived, for warm-up + measured time. Only calls that start inside
/// the measured window count; latency is from send to the last byte of the answer.
/// </summary>
internal static class LoadGenerator
{
    /// <param name="overrun">How long the loops go on sending after the measured window (while <paramref name="atMeasureEnd"/> kills the host).</param>
    /// <param name="jsonBody">Sent with <c>POST</c> when given (the LLM subjects); otherwise each call is a <c>GET</c>.</param>
    public static async Task<LoadResult> RunAsync(Uri target, IReadOnlyList<string> keys, int connections, TimeSpan warmUp, TimeSpan duration,
        Func<Task> atMeasureStart, Func<Task> atMeasureEnd, TimeSpan overrun = default, string? jsonBody = null)
    {
        using var handler = new SocketsHttpHandler
        {
            MaxConnectionsPerServer = connections,
            UseProxy = false,
            UseCookies = false,
            AutomaticDecompression = DecompressionMethods.None,
            PooledConnectionLifetime = Timeout.InfiniteTimeSpan,
            PooledConnectionIdleTimeout = TimeSpan.FromMinutes(5),
        };
        using var client = new HttpClient(handler) { Timeout = TimeSpan.FromSeconds(60) };

        var begin = Stopwatch.GetTimestamp();
        var measureStart = begin + (long)(warmUp.TotalSeconds * Stopwatch.Frequency);
        var measureEnd = measureStart + (long)(duration.TotalSeconds * Stopwatch.Frequency);
        var sendUntil = measureEnd + (long)(overrun.TotalSeconds * Stopwatch.Frequency);

        var workers = new Task<WorkerResult>[connections];
        var answered = new StrongBox<long>();
        for (var i = 0; i < connections; i++)
        {
            var key = keys[i % keys.Count];
            workers[i] = Task.Run(() => WorkerAsync(client, target, jsonBody, key, measureStart, measureEnd, sendUntil, answered));
        }

        await Task.Delay(Remaining(measureStart));
        await atMeasureStart();
        var cpuStart = MachineCpu.Read();
        var clientCpuStart = Process.GetCurrentProcess().TotalProcessorTime;
        await Task.Delay(Remaining(measureEnd));
        var cpuEnd = MachineCpu.Read();
        var clientCpuEnd = Process.GetCurrentProcess().TotalProcessorTime;
        await atMeasureEnd();

        var results = await Task.WhenAll(workers);
        var latencies = results.SelectMany(r => r.Latencies).ToArray();
        Array.Sort(latencies);
        var errors = results.SelectMany(r => r.Errors).GroupBy(e => e).ToDictionary(g => g.Key, g => g.Count());
        return new LoadResult(latencies.Length, duration, Percentile(latencies, 0.50), Percentile(latencies, 0.99), errors,
            MachineCpu.BusyFraction(cpuStart, cpuEnd), clientCpuEnd - clientCpuStart, Interlocked.Read(ref answered.Value));
    }

    private static TimeSpan Remaining(long timestamp) => TimeSpan.FromSeconds(Math.Max(0, (timestamp - Stopwatch.GetTimestamp()) / (double)Stopwatch.Frequency));

    private static TimeSpan Percentile(long[] sorted, double p)
        => sorted.Length == 0 ? TimeSpan.Zero : Stopwatch.GetElapsedTime(0, sorted[Math.Min(sorted.Length - 1, (int)(p * sorted.Length))]);

    private static async Task<WorkerResult> WorkerAsync(HttpClient client, Uri target, string? jsonBody, string key, long measureStart, long measureEnd, long sendUntil, StrongBox<long> answered)
    {
        var latencies = new List<long>(capacity: 4096);
        var errors = new List<string>();
        var authorization = "Bearer " + key;
        while (true)
        {
            var start = Stopwatch.GetTimestamp();
            if (start >= sendUntil)
            {
                break;
            }

            string? error = null;
            try
            {
                using var request = jsonBody is null
                    ? new HttpRequestMessage(HttpMethod.Get, target)
                    : new HttpRequestMessage(HttpMethod.Post, target) { Content = new StringContent(jsonBody, System.Text.Encoding.UTF8, "application/json") };
                request.Headers.TryAddWithoutValidation("Authorization", authorization);
                using var response = await client.SendAsync(request, HttpCompletionOption.ResponseContentRead);
                if (response.StatusCode != HttpStatusCode.OK)
                {
                    error = $"HTTP {(int)response.StatusCode}";
                }
                else
                {
                    Interlocked.Increment(ref answered.Value);
                }
            }
            catch (HttpRequestException e)
            {
                error = e.GetType().Name + ": " + e.Message;
            }
            catch (TaskCanceledException)
            {
                error = "timeout";
            }

            if (start >= measureStart && start < measureEnd)
            {
                if (error is null)
                {
                    latencies.Add(Stopwatch.GetTimestamp() - start);
                }
                else
                {
                    errors.Add(error);
                }
            }
        }

        return new WorkerResult(latencies, errors);
    }

    private sealed record WorkerResult(List<long> Latencies, List<string> Errors);
}

/// <summary>What the load generator saw in the measured window, and <paramref name="Answered"/>: every 200 it received, warm-up included.</summary>
internal sealed record LoadResult(long Calls, TimeSpan Duration, TimeSpan P50, TimeSpan P99, Dictionary<string, int> Errors, double MachineBusy,
    TimeSpan ClientCpu, long Answered)
{
    public double PerSecond => Calls / Duration.TotalSeconds;
}

/// <summary>Whole-machine CPU use from <c>/proc/stat</c> (Linux; elsewhere reported as unknown).</summary>
internal static class MachineCpu
{
    public static (long Busy, long Total)? Read()
    {
        try
        {
            var fields = File.ReadLines("/proc/stat").First().Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1).Select(long.Parse).ToArray();
            var idle = fields[3] + (fields.Length > 4 ? fields[4] : 0);
            var total = fields.Take(8).Sum();
            return (total - idle, total);
        }
        catch (IOException)
        {
            return null;
        }
    }

    public static double BusyFraction((long Busy, long Total)? start, (long Busy, long Total)? end)
        => start is { } s && end is { } e && e.Total > s.Total ? (e.Busy - s.Busy) / (double)(e.Total - s.Total) : double.NaN;
}
