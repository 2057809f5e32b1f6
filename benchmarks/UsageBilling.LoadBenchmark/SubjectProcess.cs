using System.Diagnostics;
using System.Text.Json;

namespace UsageBilling.LoadBenchmark;

/// <summary>A subject's host: this executable started again with <c>serve</c>, stopped by closing its standard input.</summary>
internal sealed class SubjectProcess : IDisposable
{
    private readonly Process _process;

    private SubjectProcess(Process process, ReadyMessage ready)
    {
        _process = process;
        BaseAddress = new Uri($"http://127.0.0.1:{ready.Port}");
        Keys = ready.Keys;
    }

    public Uri BaseAddress { get; }

    public IReadOnlyList<string> Keys { get; }

    public static async Task<SubjectProcess> StartAsync(Subject subject, string? connectionString)
    {
        var start = new ProcessStartInfo(Environment.ProcessPath!)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };

        // Dynamic PGO re-compiles instrumented methods for minutes when two cores are saturated, and a run of seconds
        // would measure the JIT (it was half the host CPU per call on PostgreSQL). Hosts run steady-state code: same for
        // every subject, bare included. Set DOTNET_TieredPGO=1 in the environment to measure with it.
        if (Environment.GetEnvironmentVariable("DOTNET_TieredPGO") is null)
        {
            start.Environment["DOTNET_TieredPGO"] = "0";
        }

        // Under `dotnet run` this is the apphost; started as `dotnet UsageBilling.LoadBenchmark.dll` it is the muxer.
        if (Path.GetFileNameWithoutExtension(Environment.ProcessPath) == "dotnet")
        {
            start.ArgumentList.Add(typeof(SubjectProcess).Assembly.Location);
        }

        start.ArgumentList.Add("serve");
        start.ArgumentList.Add(subject.Name);
        if (connectionString is not null)
        {
            start.ArgumentList.Add(connectionString);
        }

        var process = Process.Start(start) ?? throw new InvalidOperationException("Could not start the subject host.");
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        while (await process.StandardOutput.ReadLineAsync(timeout.Token) is { } line)
        {
            if (line.StartsWith(SubjectHost.ReadyPrefix, StringComparison.Ordinal))
            {
                var ready = JsonSerializer.Deserialize<ReadyMessage>(line[SubjectHost.ReadyPrefix.Length..])!;
                return new SubjectProcess(process, ready);
            }

            Console.WriteLine("   host: " + line);
        }

        throw new InvalidOperationException($"The {subject.Name} host exited (code {(process.HasExited ? process.ExitCode : -1)}) before it was ready.");
    }

    public async Task StopAsync()
    {
        _process.StandardInput.Close();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        try
        {
            await _process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            _process.Kill(entireProcessTree: true);
        }
    }

    /// <summary>kill -9: no graceful stop, nothing flushed.</summary>
    public async Task KillAsync()
    {
        _process.Kill(entireProcessTree: true);
        await _process.WaitForExitAsync();
    }

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
        }

        _process.Dispose();
    }
}
