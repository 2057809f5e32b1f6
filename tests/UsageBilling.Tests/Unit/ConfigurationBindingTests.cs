using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace UsageBilling.Tests.Unit;

public sealed class ConfigurationBindingTests
{
    [Fact]
    public void A_misspelt_key_in_the_usage_billing_section_is_reported_by_name_instead_of_ignored()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["UsageBilling:Credits:ReservationTimout"] = "00:01:00",
            ["UsageBilling:Pricing:Endpoints:quote"] = "0.01",
        }).Build();
        using var services = new ServiceCollection().AddLogging().AddUsageBilling(configuration.GetSection("UsageBilling")).Services.BuildServiceProvider();

        var error = Assert.Throws<InvalidOperationException>(() => services.GetRequiredService<IOptions<UsageBillingOptions>>().Value);
        Assert.Contains("ReservationTimout", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Known_keys_and_the_names_inside_dictionaries_bind()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["UsageBilling:Credits:ReservationTimeout"] = "00:01:00",
            ["UsageBilling:Pricing:Endpoints:any-name-at-all"] = "0.01",
        }).Build();
        using var services = new ServiceCollection().AddLogging().AddUsageBilling(configuration.GetSection("UsageBilling")).Services.BuildServiceProvider();

        var options = services.GetRequiredService<IOptions<UsageBillingOptions>>().Value;
        Assert.Equal(TimeSpan.FromMinutes(1), options.Credits.ReservationTimeout);
        Assert.Equal(0.01m, options.Pricing.Endpoints["any-name-at-all"]);
    }
}
