using System.IO.Compression;
using System.Xml.Linq;

namespace UsageBilling.PackageTests;

/// <summary>Checks what a package holds: metadata for its gallery page, XML docs, and no test or sample code.</summary>
internal static class PackageContents
{
    public static void AssertWellFormed(string path, string id, string version)
    {
        using var package = ZipFile.OpenRead(path);
        var names = package.Entries.Select(e => e.FullName).ToList();
        Assert.Contains($"lib/net10.0/{id}.dll", names);
        Assert.Contains($"lib/net10.0/{id}.xml", names);
        Assert.Contains("README.md", names);
        Assert.DoesNotContain(names, n => n.Contains("Tests", StringComparison.OrdinalIgnoreCase) || n.Contains("sample", StringComparison.OrdinalIgnoreCase)
            || n.Contains("MeteredApi", StringComparison.Ordinal) || n.Contains("LlmGateway", StringComparison.Ordinal));

        using var nuspecStream = package.Entries.Single(e => e.FullName.EndsWith(".nuspec", StringComparison.Ordinal)).Open();
        var metadata = XDocument.Load(nuspecStream).Root!.Elements().Single(e => e.Name.LocalName == "metadata");
        string Value(string name) => metadata.Elements().SingleOrDefault(e => e.Name.LocalName == name)?.Value ?? "";
        Assert.Equal(id, Value("id"));
        Assert.Equal(version, Value("version"));
        Assert.Equal("MIT", Value("license"));
        Assert.Equal("README.md", Value("readme"));
        Assert.False(string.IsNullOrWhiteSpace(Value("description")));
        Assert.False(string.IsNullOrWhiteSpace(Value("tags")));
        var repository = metadata.Elements().Single(e => e.Name.LocalName == "repository");
        Assert.Equal("git", repository.Attribute("type")?.Value);
        Assert.StartsWith("https://", repository.Attribute("url")?.Value, StringComparison.Ordinal);
    }
}
