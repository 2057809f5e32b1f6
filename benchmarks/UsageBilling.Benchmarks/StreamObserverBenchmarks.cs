using System.Text;
using BenchmarkDotNet.Attributes;
using Microsoft.AspNetCore.Http;

namespace UsageBilling.Benchmarks;

/// <summary>What reading usage from a streamed LLM response costs: writing a 200-chunk OpenAI SSE stream straight to the client (baseline) or through the observer.</summary>
[MemoryDiagnoser]
public class StreamObserverBenchmarks
{
    private byte[][] _chunks = null!;
    private DefaultHttpContext _context = null!;

    [GlobalSetup]
    public void Setup()
    {
        _chunks = Enumerable.Range(0, 200)
            .Select(i => Encoding.UTF8.GetBytes($"data: {{\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\" word{i}\"}},\"finish_reason\":null}}]}}\n\n"))
            .Append(Encoding.UTF8.GetBytes("data: {\"id\":\"c\",\"choices\":[],\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":200}}\n\ndata: [DONE]\n\n"))
            .ToArray();
        _context = new DefaultHttpContext();
        _context.Response.ContentType = "text/event-stream";
    }

    [Benchmark(Baseline = true)]
    public async Task Unobserved()
    {
        foreach (var chunk in _chunks)
        {
            await Stream.Null.WriteAsync(chunk);
        }
    }

    [Benchmark]
    public async Task<long?> Observed()
    {
        var usage = new LlmUsageAccumulator(LlmApiFormat.OpenAIChatCompletions);
        await using var observer = new LlmResponseObserver(Stream.Null, _context.Response, usage, 1024 * 1024);
        foreach (var chunk in _chunks)
        {
            await observer.WriteAsync(chunk);
        }

        observer.Complete();
        return usage.ReportedOutputTokens;
    }
}
