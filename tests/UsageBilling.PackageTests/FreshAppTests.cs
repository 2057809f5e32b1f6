using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text.Json;

namespace UsageBilling.PackageTests;

/// <summary>
/// Installs the packages as a user would: packs them to a local folder, creates a fresh web app in a temporary
/// directory, adds the packages from that folder, builds and runs it, and calls a metered endpoint.
/// </summary>
public sealed class FreshAppTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), $"usagebilling-fresh-{Guid.NewGuid():N}");
    private readonly string _version = $"0.1.0-test.{DateTime.UtcNow:yyyyMMddHHmmss}";

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
    public async Task A_fresh_web_app_installs_the_packages_and_bills_a_call_until_the_credit_runs_out()
    {
        var feed = Path.Combine(_root, "feed");
        var app = Path.Combine(_root, "FreshApp");
        var repository = RepositoryRoot();
        foreach (var project in PackedProjects)
        {
            await RunAsync("dotnet", $"pack \"{Path.Combine(repository, project)}\" -c Release -o \"{feed}\" -p:Version={_version}", repository);
        }

        foreach (var id in new[] { "UsageBilling", "UsageBilling.EfCore", "UsageBilling.Mongo", "UsageBilling.Testing" })
        {
            Assert.True(File.Exists(Path.Combine(feed, $"{id}.{_version}.nupkg")), $"{id} was not packed");
            Assert.True(File.Exists(Path.Combine(feed, $"{id}.{_version}.snupkg")), $"{id} has no symbol package");
        }

        PackageContents.AssertWellFormed(Path.Combine(feed, $"UsageBilling.{_version}.nupkg"), "UsageBilling", _version);
        PackageContents.AssertWellFormed(Path.Combine(feed, $"UsageBilling.EfCore.{_version}.nupkg"), "UsageBilling.EfCore", _version);

        Directory.CreateDirectory(app);
        await RunAsync("dotnet", "new web --framework net10.0 --name FreshApp --output .", app);
        // The local folder is added to the sources the machine already has; the app needs nothing else.
        await File.WriteAllTextAsync(Path.Combine(app, "nuget.config"), $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <packageSources>
                <add key="usagebilling-local" value="{feed}" />
              </packageSources>
            </configuration>
            """);
        foreach (var (package, version) in Dependencies(_version))
        {
            await RunAsync("dotnet", $"add package {package} --version {version}", app);
        }

        await File.WriteAllTextAsync(Path.Combine(app, "Program.cs"), ProgramSource);
        await RunAsync("dotnet", "build -c Release", app);

        var port = FreePort();
        using var server = Start("dotnet", $"run -c Release --no-build --urls http://127.0.0.1:{port}", app);
        var log = new System.Collections.Concurrent.ConcurrentQueue<string>();
        // Drain the app's output, or it blocks once the pipe is full.
        server.OutputDataReceived += (_, e) => log.Enqueue(e.Data ?? "");
        server.ErrorDataReceived += (_, e) => log.Enqueue(e.Data ?? "");
        server.BeginOutputReadLine();
        server.BeginErrorReadLine();
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
        try
        {
            await WaitUntilUpAsync(http, server, log);
            await CallAsync(http);
        }
        finally
        {
            server.Kill(entireProcessTree: true);
        }
    }

    private static async Task CallAsync(HttpClient http)
    {
        var created = await http.PostAsync("/setup", null);
        Assert.Equal(HttpStatusCode.OK, created.StatusCode);
        var key = (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("key").GetString();
        http.DefaultRequestHeaders.Add("X-API-Key", key);

        var first = await http.GetAsync("/hello");
        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.Equal("Hello, paying customer!", await first.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/hello")).StatusCode);
        var refused = await http.GetAsync("/hello");
        Assert.Equal(HttpStatusCode.PaymentRequired, refused.StatusCode);
        Assert.Equal("application/problem+json", refused.Content.Headers.ContentType?.MediaType);
    }

    private static readonly string[] PackedProjects =
    [
        "src/UsageBilling/UsageBilling.csproj",
        "src/UsageBilling.EfCore/UsageBilling.EfCore.csproj",
        "src/UsageBilling.Mongo/UsageBilling.Mongo.csproj",
        "src/UsageBilling.Testing/UsageBilling.Testing.csproj",
    ];

    // What a user adds: our two packages and the EF Core provider of their choice (SQLite here).
    private static IEnumerable<(string Package, string Version)> Dependencies(string version) =>
    [
        ("UsageBilling", version),
        ("UsageBilling.EfCore", version),
        ("Microsoft.EntityFrameworkCore.Sqlite", "10.0.15"),
    ];

    private const string ProgramSource = """
        using Microsoft.EntityFrameworkCore;
        using UsageBilling;

        var builder = WebApplication.CreateBuilder(args);
        builder.Services.AddUsageBilling(o => o.Keys.Prefix = "sk-fresh-")
            .UseEntityFrameworkCore(ef => ef.UseSqlite("Data Source=billing.db"), o => o.CreateDatabaseOnStartup = true);

        var app = builder.Build();
        app.UseAuthentication();
        app.UseAuthorization();
        app.UseUsageBilling();

        app.MapGet("/hello", () => "Hello, paying customer!").RequireApiKey().WithCost(0.01m);

        // Test set-up only: an account with credit for two calls, and its key.
        app.MapPost("/setup", async (AccountManager accounts, CreditManager credits, ApiKeyManager keys) =>
        {
            var account = await accounts.CreateAsync("Fresh Ltd");
            await credits.PostAsync(account.Id, LedgerEntryKind.Grant, Money.FromUnits(0.02m), "welcome");
            var key = await keys.CreateAsync(account.Id, "first key");
            return Results.Ok(new { key = key.Plaintext });
        });

        app.Run();
        """;

    private static string RepositoryRoot()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "UsageBilling.sln")))
        {
            directory = directory.Parent;
        }

        return directory?.FullName ?? throw new InvalidOperationException("UsageBilling.sln not found above the test directory.");
    }

    private static async Task RunAsync(string file, string arguments, string directory)
    {
        using var process = Start(file, arguments, directory);
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(5));
        await process.WaitForExitAsync(timeout.Token);
        Assert.True(process.ExitCode == 0, $"'{file} {arguments}' failed with {process.ExitCode}:\n{await output}\n{await error}");
    }

    private static Process Start(string file, string arguments, string directory)
    {
        var start = new ProcessStartInfo(file, arguments)
        {
            WorkingDirectory = directory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        start.Environment["DOTNET_NOLOGO"] = "1";
        start.Environment["ASPNETCORE_ENVIRONMENT"] = "Production";
        return Process.Start(start) ?? throw new InvalidOperationException($"Could not start {file}.");
    }

    private static async Task WaitUntilUpAsync(HttpClient http, Process server, IEnumerable<string> log)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (DateTime.UtcNow < deadline)
        {
            Assert.False(server.HasExited, $"The app exited:\n{string.Join('\n', log)}");
            try
            {
                await http.GetAsync("/");
                return;
            }
            catch (HttpRequestException)
            {
                await Task.Delay(250);
            }
        }

        Assert.Fail("The fresh app did not start within 60 s.");
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
