using System.Text;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace UsageBilling.DocsTests;

/// <summary>Every JSON block marked <c>&lt;!-- config: Section --&gt;</c> binds to <see cref="UsageBillingOptions"/> and passes validation.</summary>
public sealed class ConfigTests
{
    public static TheoryData<string, int> ConfigBlocks()
    {
        var data = new TheoryData<string, int>();
        foreach (var file in Docs.MarkdownFiles)
        {
            foreach (var block in Docs.Blocks(file).Where(b => b.MarkerKind == "config"))
            {
                data.Add(file, block.Line);
            }
        }

        return data;
    }

    [Fact]
    public void The_docs_have_a_marked_configuration_example()
        => Assert.NotEmpty(ConfigBlocks());

    [Theory]
    [MemberData(nameof(ConfigBlocks))]
    public void A_configuration_example_binds_every_key_and_validates(string file, int line)
    {
        var block = Docs.Blocks(file).Single(b => b.Line == line);
        Assert.True(block.Language == "json", $"{block}: '<!-- config: ... -->' must precede a ```json block.");
        var section = Section(block);

        // Every key names a real option: an invented or misspelt one fails here.
        try
        {
            section.Bind(new UsageBillingOptions(), o => o.ErrorOnUnknownConfiguration = true);
        }
        catch (InvalidOperationException ex)
        {
            Assert.Fail($"{block}: section '{block.MarkerName}' does not bind to UsageBillingOptions: {ex.Message}");
        }

        // The public path: AddUsageBilling(section) and the start-up validation.
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddUsageBilling(section);
        using var provider = services.BuildServiceProvider();
        try
        {
            _ = provider.GetRequiredService<IOptions<UsageBillingOptions>>().Value;
        }
        catch (OptionsValidationException ex)
        {
            Assert.Fail($"{block}: section '{block.MarkerName}' fails validation: {string.Join(" ", ex.Failures)}");
        }
    }

    internal static IConfigurationSection Section(FencedBlock block)
    {
        IConfigurationRoot root;
        try
        {
            root = new ConfigurationBuilder().AddJsonStream(new MemoryStream(Encoding.UTF8.GetBytes(block.Text))).Build();
        }
        catch (FormatException ex)
        {
            Assert.Fail($"{block}: not valid JSON configuration: {ex.Message}");
            throw;
        }

        var section = root.GetSection(block.MarkerName!);
        Assert.True(section.Exists(), $"{block}: the JSON has no '{block.MarkerName}' section.");
        return section;
    }
}
