using System.Diagnostics;

namespace UsageBilling.Tests.Integration;

/// <summary>The MeteredApi sample, started as a user would, says in one line which setting is wrong and exits with code 1.</summary>
public sealed class SampleStartupErrorTests
{
    [Theory]
    [InlineData("Development", "Bogus", "Billing:Store is 'Bogus'; use Sqlite, PostgreSQL, Mongo or InMemory.")]
    [InlineData("Production", "InMemory", "set Sample:AdminToken")]
    [InlineData("Development", "PostgreSQL", "Billing:Store is PostgreSQL: set ConnectionStrings:Billing")]
    public async Task A_configuration_mistake_is_one_line_naming_the_setting_and_exit_code_1(string environment, string store, string expected)
    {
        var start = new ProcessStartInfo("dotnet", [Path.Combine(AppContext.BaseDirectory, "MeteredApi.dll"), "--urls", "http://127.0.0.1:0"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = Path.GetTempPath(),
        };
        start.Environment["ASPNETCORE_ENVIRONMENT"] = environment;
        start.Environment["Billing__Store"] = store;
        start.Environment["Sample__AdminToken"] = "";
        start.Environment["ConnectionStrings__Billing"] = "";
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(1));

        Assert.Equal(1, process.ExitCode);
        var line = Assert.Single(error.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        Assert.StartsWith("MeteredApi cannot start: ", line, StringComparison.Ordinal);
        Assert.Contains(expected, line, StringComparison.Ordinal);
        // The host's own log (standard output) may tell more; standard error has the one line.
        _ = await output;
    }
}
