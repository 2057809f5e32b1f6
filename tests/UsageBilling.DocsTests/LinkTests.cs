using System.Text.RegularExpressions;

namespace UsageBilling.DocsTests;

/// <summary>Relative links between the docs (and from the root README into them) point to files that exist.</summary>
public sealed partial class LinkTests
{
    [Fact]
    public void Every_relative_link_points_to_an_existing_file()
    {
        var files = Docs.MarkdownFiles.Append("README.md").ToList();
        var broken = new List<string>();
        var checkedLinks = 0;
        foreach (var file in files)
        {
            var directory = Path.GetDirectoryName(Path.Combine(Docs.RepositoryRoot, file))!;
            var text = Docs.Read(file);
            foreach (Match link in Link().Matches(text))
            {
                var target = link.Groups["target"].Value.Trim();
                if (target.Length == 0 || target.StartsWith('#') || Uri.TryCreate(target, UriKind.Absolute, out _))
                {
                    continue;
                }

                var path = target.Split('#')[0];
                checkedLinks++;
                var full = Path.GetFullPath(Path.Combine(directory, Uri.UnescapeDataString(path)));
                if (!File.Exists(full) && !Directory.Exists(full))
                {
                    broken.Add($"{file}: ({target})");
                }
            }
        }

        Assert.True(checkedLinks > 0, "No relative links were found; is docs/README.md there?");
        Assert.True(broken.Count == 0, "Broken relative links:\n" + string.Join('\n', broken));
    }

    [Fact]
    public void The_docs_name_no_package_registry_host()
    {
        var named = Docs.MarkdownFiles.Where(f => Docs.Read(f).Contains("nuget.org", StringComparison.OrdinalIgnoreCase)).ToList();
        Assert.True(named.Count == 0, "Name no package registry host: " + string.Join(", ", named));
    }

    // [text](target) and [text](target "title"); images too.
    [GeneratedRegex(@"\]\((?<target>[^)\s]+)(\s+""[^""]*"")?\)")]
    private static partial Regex Link();
}
