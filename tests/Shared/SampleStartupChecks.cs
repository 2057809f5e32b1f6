using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace UsageBilling.Tests.Shared;

/// <summary>Starts a sample as a user would (<c>dotnet Sample.dll</c>) and checks how it refuses to start.</summary>
internal static class SampleStartupChecks
{
    /// <summary>Stands for a PostgreSQL connection string to a port nobody listens on.</summary>
    public const string ClosedPostgres = "closed-postgres";

    /// <summary>
    /// Runs <paramref name="sample"/> with <paramref name="environment"/> (values of <see cref="ClosedPostgres"/> become a
    /// connection string to a closed port) and asserts exit code 1, one line on standard error naming the setting
    /// (<paramref name="expected"/>), and no exception or stack trace on standard output before it.
    /// </summary>
    public static async Task AssertOneLineAndExitCode1Async(string sample, string expected, IReadOnlyDictionary<string, string> environment)
    {
        var start = new ProcessStartInfo("dotnet", [Path.Combine(AppContext.BaseDirectory, sample + ".dll"), "--urls", "http://127.0.0.1:0"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = Path.GetTempPath(),
        };
        foreach (var (name, value) in environment)
        {
            start.Environment[name] = value == ClosedPostgres ? $"Host=127.0.0.1;Port={ClosedPort()};Username=billing;Password=billing;Database=billing" : value;
        }

        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(1));
        var stdout = await output;

        Assert.True(process.ExitCode == 1, $"exit code {process.ExitCode}\n{stdout}\n{error}");
        var line = Assert.Single(error.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        Assert.StartsWith($"{sample} cannot start: ", line, StringComparison.Ordinal);
        Assert.Contains(expected, line, StringComparison.Ordinal);
        // The host's log (standard output) may say what it did, but no failure and no stack dump comes before the line.
        var logged = stdout.Split('\n');
        Assert.DoesNotContain(logged, l => l.TrimStart().StartsWith("at ", StringComparison.Ordinal) || l.StartsWith("fail:", StringComparison.Ordinal)
            || l.StartsWith("crit:", StringComparison.Ordinal) || l.Contains("Exception", StringComparison.Ordinal));
    }

    /// <summary>A local port that was free a moment ago and is closed now: connecting to it is refused.</summary>
    private static int ClosedPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }
}
