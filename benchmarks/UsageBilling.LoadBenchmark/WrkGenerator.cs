using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace UsageBilling.LoadBenchmark;

/// <summary>
/// The load from <c>wrk</c> (Debian's package, C, epoll) instead of the in-process generator: <c>wrk -t2 -c N</c>, the
/// issue's own yardstick. It costs the machine less per call than the in-process generator (whose CPU per call grows as a
/// subject gets slower), so every ratio to bare is smaller with it: bare gains most. One <c>wrk</c> run warms up, a
/// second measures with <c>--latency</c>; a Lua script sends each thread's requests with the subject's keys in turn
/// (<c>Authorization: Bearer</c>) and, for the LLM subjects, the JSON body. Calls are the requests <c>wrk</c> completed in the
/// measured run, errors its non-2xx answers and socket errors; its CPU is read from this process's reaped children.
/// </summary>
internal static partial class WrkGenerator
{
    public const string Executable = "wrk";

    public static async Task<LoadResult> RunAsync(Uri target, IReadOnlyList<string> keys, int connections, TimeSpan warmUp, TimeSpan duration,
        Func<Task> atMeasureStart, Func<Task> atMeasureEnd, string? jsonBody)
    {
        var script = Path.Combine(Path.GetTempPath(), $"usagebilling-load-{Guid.NewGuid():N}.lua");
        await File.WriteAllTextAsync(script, Script(keys, jsonBody));
        try
        {
            var threads = Math.Min(2, connections);
            if (warmUp > TimeSpan.Zero)
            {
                await RunWrkAsync(target, script, threads, connections, warmUp);
            }

            await atMeasureStart();
            var cpuStart = MachineCpu.Read();
            var childCpuStart = ReapedChildrenCpu();
            var output = await RunWrkAsync(target, script, threads, connections, duration);
            var cpuEnd = MachineCpu.Read();
            var childCpuEnd = ReapedChildrenCpu();
            await atMeasureEnd();

            var calls = long.Parse(Match(RequestsLine(), output).Groups[1].Value, CultureInfo.InvariantCulture);
            var errors = new Dictionary<string, int>();
            if (NonSuccessLine().Match(output) is { Success: true } nonSuccess)
            {
                errors["HTTP non-2xx"] = int.Parse(nonSuccess.Groups[1].Value, CultureInfo.InvariantCulture);
            }

            if (SocketErrorsLine().Match(output) is { Success: true } socket)
            {
                errors["socket errors: " + socket.Groups[1].Value.Trim()] = 1;
            }

            var failed = errors.TryGetValue("HTTP non-2xx", out var n) ? n : 0;
            return new LoadResult(calls - failed, duration, Percentile(output, "50"), Percentile(output, "99"), errors,
                MachineCpu.BusyFraction(cpuStart, cpuEnd), childCpuEnd - childCpuStart, Answered: calls - failed);
        }
        finally
        {
            File.Delete(script);
        }
    }

    /// <summary>Whether <c>wrk</c> is on the path.</summary>
    public static bool IsInstalled() => (Environment.GetEnvironmentVariable("PATH") ?? "")
        .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
        .Any(directory => File.Exists(Path.Combine(directory, Executable)));

    private static string Script(IReadOnlyList<string> keys, string? jsonBody)
    {
        static string Lua(string value) => "\"" + value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal) + "\"";
        var text = new StringBuilder();
        text.Append("local keys = {").AppendJoin(", ", keys.Select(k => Lua("Bearer " + k))).AppendLine("}");
        text.AppendLine("local i = 0");
        text.AppendLine(jsonBody is null
            ? "wrk.method = \"GET\""
            : $"wrk.method = \"POST\"\nwrk.body = {Lua(jsonBody)}\nwrk.headers[\"Content-Type\"] = \"application/json\"");
        if (keys.Count == 1)
        {
            // One key: a static request, which wrk formats once (no Lua per request).
            text.AppendLine("wrk.headers[\"Authorization\"] = keys[1]");
            return text.ToString();
        }

        text.AppendLine("request = function()");
        text.AppendLine("  i = i % #keys + 1");
        text.AppendLine("  wrk.headers[\"Authorization\"] = keys[i]");
        text.AppendLine("  return wrk.format()");
        text.AppendLine("end");
        return text.ToString();
    }

    private static async Task<string> RunWrkAsync(Uri target, string script, int threads, int connections, TimeSpan duration)
    {
        var start = new ProcessStartInfo(Executable)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in new[]
        {
            "-t", threads.ToString(CultureInfo.InvariantCulture), "-c", connections.ToString(CultureInfo.InvariantCulture),
            "-d", Math.Max(1, (int)Math.Round(duration.TotalSeconds)).ToString(CultureInfo.InvariantCulture) + "s",
            "--timeout", "60s", "--latency", "-s", script, target.ToString(),
        })
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException($"{Executable} did not start.");
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{Executable} exited with {process.ExitCode}: {await error}");
        }

        return await output;
    }

    /// <summary>The CPU time of this process's children that have exited and been waited for (<c>/proc/self/stat</c> cutime + cstime).</summary>
    private static TimeSpan ReapedChildrenCpu()
    {
        var stat = File.ReadAllText("/proc/self/stat");
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        var ticks = long.Parse(fields[13], CultureInfo.InvariantCulture) + long.Parse(fields[14], CultureInfo.InvariantCulture);
        return TimeSpan.FromSeconds(ticks / 100.0); // USER_HZ
    }

    private static TimeSpan Percentile(string output, string percent)
    {
        var match = Regex.Match(output, $@"^\s*{percent}(?:\.0+)?%\s+([0-9.]+)(us|ms|s)\s*$", RegexOptions.Multiline);
        if (!match.Success)
        {
            return TimeSpan.Zero;
        }

        var value = double.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture);
        return match.Groups[2].Value switch
        {
            "us" => TimeSpan.FromMicroseconds(value),
            "ms" => TimeSpan.FromMilliseconds(value),
            _ => TimeSpan.FromSeconds(value),
        };
    }

    private static Match Match(Regex regex, string output) => regex.Match(output) is { Success: true } match
        ? match
        : throw new InvalidOperationException($"Unexpected {Executable} output:\n{output}");

    [GeneratedRegex(@"^\s*(\d+) requests in ", RegexOptions.Multiline)]
    private static partial Regex RequestsLine();

    [GeneratedRegex(@"^\s*Non-2xx or 3xx responses: (\d+)", RegexOptions.Multiline)]
    private static partial Regex NonSuccessLine();

    [GeneratedRegex(@"^\s*Socket errors: (.*)$", RegexOptions.Multiline)]
    private static partial Regex SocketErrorsLine();
}
