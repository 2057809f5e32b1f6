using UsageBilling.Tests.Shared;

namespace LlmGateway.Tests;

/// <summary>The gateway, started as a user would, says in one line which setting is wrong and exits with code 1.</summary>
public sealed class SampleStartupErrorTests
{
    [Theory]
    [InlineData("Development", "Bogus", "", "Billing:Store is 'Bogus'; use Sqlite, PostgreSQL, Mongo or InMemory.")]
    [InlineData("Production", "InMemory", "", "set Gateway:AdminToken")]
    [InlineData("Development", "PostgreSQL", "", "Billing:Store is PostgreSQL: set ConnectionStrings:Billing")]
    [InlineData("Development", "PostgreSQL", SampleStartupChecks.ClosedPostgres, "the billing store (Billing:Store=PostgreSQL, ConnectionStrings:Billing) could not be reached")]
    public Task A_configuration_mistake_or_an_unreachable_database_is_one_line_naming_the_setting_and_exit_code_1(
        string environment, string store, string connectionString, string expected)
        => SampleStartupChecks.AssertOneLineAndExitCode1Async("LlmGateway", expected, new Dictionary<string, string>
        {
            ["ASPNETCORE_ENVIRONMENT"] = environment,
            ["Billing__Store"] = store,
            ["Gateway__AdminToken"] = "",
            ["ConnectionStrings__Billing"] = connectionString,
        });
}
