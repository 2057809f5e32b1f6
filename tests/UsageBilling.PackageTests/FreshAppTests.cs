using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;
using UsageBilling.DocsTests;
using Xunit.Abstractions;

namespace UsageBilling.PackageTests;

/// <summary>
/// Follows docs/getting-started.md as a user would, with the page's own commands: its shell blocks run in order in one
/// bash session, its Program.cs block becomes the app's Program.cs and its appsettings block is merged into the app's
/// appsettings.json. The test changes only what it must: the repository path, a temporary HOME (so that the page's
/// <c>dotnet nuget add source</c> changes a copy of the machine's NuGet configuration, not the machine's), a unique
/// package version (so that no cached package of an earlier run is used) and a free port.
/// </summary>
public sealed partial class FreshAppTests : IDisposable
{
    private const string Page = "docs/getting-started.md";
    private const string BlockMarker = "::page-block ";

    private readonly string _root = Path.Combine(Path.GetTempPath(), $"usagebilling-fresh-{Guid.NewGuid():N}");
    private readonly string _version = $"0.1.0-test.{DateTime.UtcNow:yyyyMMddHHmmss}";
    private readonly ITestOutputHelper _output;

    public FreshAppTests(ITestOutputHelper output) => _output = output;

    public void Dispose()
    {
        try
        {
            Directory.Delete(_root, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    [Fact]
    public async Task The_getting_started_page_run_as_written_installs_the_packages_and_bills_a_call_until_the_credit_runs_out()
    {
        var home = Path.Combine(_root, "home");
        var work = Path.Combine(_root, "work");
        Directory.CreateDirectory(work);
        CopyUserNuGetConfiguration(home);

        var port = FreePort();
        var script = PageScript(port, out var blocks);
        var scriptPath = Path.Combine(_root, "page.sh");
        await File.WriteAllTextAsync(scriptPath, script);

        var (exitCode, output) = await RunPageAsync(scriptPath, work, home);
        _output.WriteLine(output);
        Assert.True(exitCode == 0, $"The page's commands failed with exit code {exitCode}:\n{script}\n--- output ---\n{output}");

        var feed = Path.Combine(home, "usagebilling-packages");
        foreach (var id in new[] { "UsageBilling", "UsageBilling.EfCore", "UsageBilling.Mongo", "UsageBilling.Testing" })
        {
            Assert.True(File.Exists(Path.Combine(feed, $"{id}.{_version}.nupkg")), $"{id} was not packed into the page's folder");
            Assert.True(File.Exists(Path.Combine(feed, $"{id}.{_version}.snupkg")), $"{id} has no symbol package");
        }

        PackageContents.AssertWellFormed(Path.Combine(feed, $"UsageBilling.{_version}.nupkg"), "UsageBilling", _version);
        PackageContents.AssertWellFormed(Path.Combine(feed, $"UsageBilling.EfCore.{_version}.nupkg"), "UsageBilling.EfCore", _version);
        var project = await File.ReadAllTextAsync(Path.Combine(work, "QuoteApi", "QuoteApi.csproj"));
        Assert.Contains($"""Include="UsageBilling" Version="{_version}" """.TrimEnd(), project, StringComparison.Ordinal);
        Assert.Matches("""Include="Microsoft.EntityFrameworkCore.Sqlite" Version="10\.""", project);

        // What each block printed, by the block's line in the page.
        var printed = ByBlock(output);
        var callBlock = blocks.Single(b => b.Text.Contains("/v1/quote", StringComparison.Ordinal) && b.Text.Contains("curl -i", StringComparison.Ordinal));
        var statuses = StatusLine().Matches(printed[callBlock.Line]).Select(m => m.Groups["status"].Value).ToList();
        Assert.Equal(["200", "200", "402"], statuses);
        Assert.Contains("urn:usagebilling:problem:insufficient-credits", printed[callBlock.Line], StringComparison.Ordinal);
        Assert.Contains("X-RateLimit-Limit: 60", printed[callBlock.Line], StringComparison.Ordinal);

        var usageBlock = blocks.Single(b => b.Text.Contains("/admin/billing/usage", StringComparison.Ordinal));
        Assert.True(Regex.Count(printed[usageBlock.Line], "\"statusCode\": 200") >= 2,
            $"The usage log does not show the two charged calls:\n{printed[usageBlock.Line]}");
    }

    /// <summary>
    /// The page's blocks in order as one bash script: shell blocks as they are (with the test's substitutions), the
    /// Program.cs block written over the template's, the appsettings block merged into the template's file.
    /// </summary>
    private string PageScript(int port, out IReadOnlyList<FencedBlock> shellBlocks)
    {
        var blocks = Docs.Blocks(Page);
        var script = new StringBuilder();
        script.AppendLine("set -euo pipefail");
        var shell = new List<FencedBlock>();
        var program = 0;
        var settings = 0;
        foreach (var block in blocks)
        {
            script.AppendLine(System.Globalization.CultureInfo.InvariantCulture, $"echo \"{BlockMarker}{block.Line} (at $SECONDS s)\"");
            if (block.Language is "sh" or "bash" or "shell")
            {
                shell.Add(block);
                script.AppendLine(Substitute(block.Text, port));
            }
            else if (block.MarkerName == "getting-started-program")
            {
                program++;
                var path = Path.Combine(_root, "Program.cs");
                File.WriteAllText(path, block.Text + "\n");
                script.AppendLine(System.Globalization.CultureInfo.InvariantCulture, $"cp '{path}' Program.cs");
            }
            else if (block is { MarkerKind: "config", MarkerName: "UsageBilling" })
            {
                settings++;
                var path = Path.Combine(_root, "appsettings.page.json");
                File.WriteAllText(path, block.Text + "\n");
                script.AppendLine(System.Globalization.CultureInfo.InvariantCulture, $"jq -s '.[0] * .[1]' appsettings.json '{path}' > appsettings.merged.json && mv appsettings.merged.json appsettings.json");
            }
        }

        Assert.Equal(1, program);
        Assert.Equal(1, settings);
        Assert.True(shell.Count >= 4, $"{Page} has {shell.Count} shell blocks; expected install, create, admin API and calls.");
        Assert.Contains(shell, b => b.Text.Contains("--urls http://localhost:5000", StringComparison.Ordinal));
        shellBlocks = shell;
        return script.ToString();
    }

    /// <summary>Only what a test must change: where the repository is, the packed version, and the port.</summary>
    private string Substitute(string commands, int port)
    {
        var lines = commands.Split('\n').Select(line =>
        {
            if (line.StartsWith("dotnet pack ", StringComparison.Ordinal))
            {
                Assert.Contains("path/to/usagebilling/", line, StringComparison.Ordinal);
                return line.Replace("path/to/usagebilling/", RepositoryRoot() + "/", StringComparison.Ordinal) + $" -p:Version={_version}";
            }

            return AddOurPackage().IsMatch(line) ? line + $" --version {_version}" : line;
        });
        return string.Join('\n', lines).Replace("localhost:5000", $"localhost:{port}", StringComparison.Ordinal);
    }

    /// <summary>
    /// Runs the script in its own session, so that the app it starts in the background is stopped with it. Its output
    /// goes to a file: the app keeps the script's output open after the script ends.
    /// </summary>
    private static async Task<(int ExitCode, string Output)> RunPageAsync(string scriptPath, string directory, string home)
    {
        var log = scriptPath + ".log";
        var start = new ProcessStartInfo("setsid", ["bash", "-c", "exec bash \"$0\" > \"$1\" 2>&1", scriptPath, log])
        {
            WorkingDirectory = directory,
            UseShellExecute = false,
        };
        start.Environment["NUGET_PACKAGES"] = GlobalPackagesFolder();
        start.Environment["HOME"] = home;
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        start.Environment["DOTNET_NOLOGO"] = "1";
        start.Environment["DOTNET_SKIP_FIRST_TIME_EXPERIENCE"] = "1";
        start.Environment.Remove("ASPNETCORE_ENVIRONMENT");
        start.Environment.Remove("DOTNET_ENVIRONMENT");
        using var process = Process.Start(start) ?? throw new InvalidOperationException("Could not start bash.");
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(4));
            await process.WaitForExitAsync(timeout.Token);
        }
        finally
        {
            // The page leaves the app running in the background ('dotnet run ... &'): stop the whole session.
            using var kill = Process.Start("kill", ["-TERM", "--", $"-{process.Id}"]);
            await kill!.WaitForExitAsync();
        }

        return (process.ExitCode, await File.ReadAllTextAsync(log));
    }

    private static Dictionary<int, string> ByBlock(string output)
    {
        var result = new Dictionary<int, string>();
        var current = -1;
        var text = new StringBuilder();
        foreach (var line in output.ReplaceLineEndings("\n").Split('\n'))
        {
            if (line.StartsWith(BlockMarker, StringComparison.Ordinal))
            {
                result[current] = text.ToString();
                current = int.Parse(line[BlockMarker.Length..].Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture);
                text.Clear();
            }
            else
            {
                text.AppendLine(line);
            }
        }

        result[current] = text.ToString();
        return result;
    }

    /// <summary>The machine's user-level NuGet configuration, copied into the temporary HOME: its sources, and nothing the page adds reaches the real file.</summary>
    private static void CopyUserNuGetConfiguration(string home)
    {
        var target = Path.Combine(home, ".nuget", "NuGet");
        Directory.CreateDirectory(target);
        var user = Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "NuGet", "NuGet.Config");
        if (File.Exists(user))
        {
            File.Copy(user, Path.Combine(target, "NuGet.Config"));
        }
    }

    private static string GlobalPackagesFolder()
        => Environment.GetEnvironmentVariable("NUGET_PACKAGES") is { Length: > 0 } configured
            ? configured
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");

    private static string RepositoryRoot() => Docs.RepositoryRoot;

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    [GeneratedRegex(@"^dotnet add package UsageBilling(\.\w+)?\s*$")]
    private static partial Regex AddOurPackage();

    [GeneratedRegex(@"^HTTP/1\.1 (?<status>\d{3})", RegexOptions.Multiline)]
    private static partial Regex StatusLine();
}
