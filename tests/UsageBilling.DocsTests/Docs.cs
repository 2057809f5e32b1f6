using System.Text;
using System.Text.RegularExpressions;

namespace UsageBilling.DocsTests;

/// <summary>The markdown files under docs/ and the snippet regions under docs/snippets, read from the repository.</summary>
internal static partial class Docs
{
    public static string RepositoryRoot { get; } = FindRoot();

    public static string DocsDirectory => Path.Combine(RepositoryRoot, "docs");

    /// <summary>docs/*.md, relative to the repository root with '/' separators.</summary>
    public static IReadOnlyList<string> MarkdownFiles { get; } = Directory.GetFiles(Path.Combine(FindRoot(), "docs"), "*.md")
        .Select(f => Path.GetRelativePath(FindRoot(), f).Replace('\\', '/'))
        .Order(StringComparer.Ordinal)
        .ToList();

    public static string Read(string relativePath) => File.ReadAllText(Path.Combine(RepositoryRoot, relativePath));

    /// <summary>Every fenced block of a markdown file, with the marker comment on the line before it, if any.</summary>
    public static IReadOnlyList<FencedBlock> Blocks(string relativePath)
    {
        var lines = Read(relativePath).ReplaceLineEndings("\n").Split('\n');
        var blocks = new List<FencedBlock>();
        for (var i = 0; i < lines.Length; i++)
        {
            var open = FenceOpen().Match(lines[i]);
            if (!open.Success)
            {
                continue;
            }

            var fence = open.Groups["fence"].Value;
            var language = open.Groups["lang"].Value.Trim().ToLowerInvariant();
            var startLine = i + 1;
            var body = new List<string>();
            for (i++; i < lines.Length && lines[i].Trim() != fence; i++)
            {
                body.Add(lines[i]);
            }

            var previous = startLine - 2;
            while (previous >= 0 && string.IsNullOrWhiteSpace(lines[previous]))
            {
                previous--;
            }

            var marker = previous >= 0 ? Marker().Match(lines[previous]) : Match.Empty;
            blocks.Add(new FencedBlock(relativePath, startLine, language, string.Join('\n', body),
                marker.Success ? marker.Groups["kind"].Value : null, marker.Success ? marker.Groups["name"].Value : null));
        }

        return blocks;
    }

    /// <summary>Every <c>// &lt;snippet:name&gt;</c> region of the .cs files under docs/snippets.</summary>
    public static IReadOnlyDictionary<string, Region> Regions { get; } = ReadRegions();

    /// <summary>Removes the common indentation, trailing whitespace and leading and trailing blank lines.</summary>
    public static string Normalize(string text)
    {
        var lines = text.ReplaceLineEndings("\n").Split('\n').Select(l => l.TrimEnd()).ToList();
        while (lines.Count > 0 && lines[0].Length == 0)
        {
            lines.RemoveAt(0);
        }

        while (lines.Count > 0 && lines[^1].Length == 0)
        {
            lines.RemoveAt(lines.Count - 1);
        }

        var indent = lines.Where(l => l.Length > 0).Select(l => l.Length - l.TrimStart().Length).DefaultIfEmpty(0).Min();
        return string.Join('\n', lines.Select(l => l.Length == 0 ? l : l[indent..]));
    }

    private static Dictionary<string, Region> ReadRegions()
    {
        var root = Path.Combine(FindRoot(), "docs", "snippets");
        var regions = new Dictionary<string, Region>(StringComparer.Ordinal);
        var files = Directory.GetFiles(root, "*.cs", SearchOption.AllDirectories)
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal)
                && !f.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}", StringComparison.Ordinal));
        foreach (var file in files)
        {
            var relative = Path.GetRelativePath(FindRoot(), file).Replace('\\', '/');
            var lines = File.ReadAllText(file).ReplaceLineEndings("\n").Split('\n');
            for (var i = 0; i < lines.Length; i++)
            {
                var start = RegionStart().Match(lines[i]);
                if (!start.Success)
                {
                    continue;
                }

                var name = start.Groups["name"].Value;
                var end = Array.FindIndex(lines, i + 1, l => l.Trim() == $"// </snippet:{name}>");
                if (end < 0)
                {
                    throw new InvalidOperationException($"{relative}:{i + 1}: snippet '{name}' has no '// </snippet:{name}>'.");
                }

                if (!regions.TryAdd(name, new Region(name, relative, i + 1, string.Join('\n', lines[(i + 1)..end]))))
                {
                    throw new InvalidOperationException($"{relative}:{i + 1}: snippet '{name}' is also defined in {regions[name].File}.");
                }
            }
        }

        return regions;
    }

    private static string FindRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "UsageBilling.sln")))
            {
                return directory.FullName;
            }
        }

        throw new InvalidOperationException("UsageBilling.sln not found above " + AppContext.BaseDirectory);
    }

    [GeneratedRegex(@"^\s*(?<fence>`{3,})(?<lang>[^`]*)$")]
    private static partial Regex FenceOpen();

    [GeneratedRegex(@"^\s*<!--\s*(?<kind>snippet|config):\s*(?<name>[\w.:-]+)\s*-->\s*$")]
    private static partial Regex Marker();

    [GeneratedRegex(@"^\s*// <snippet:(?<name>[\w.-]+)>\s*$")]
    private static partial Regex RegionStart();
}

/// <summary>A fenced block of a markdown file.</summary>
internal sealed record FencedBlock(string File, int Line, string Language, string Text, string? MarkerKind, string? MarkerName)
{
    public override string ToString() => $"{File}:{Line}";
}

/// <summary>A snippet region of a .cs file.</summary>
internal sealed record Region(string Name, string File, int Line, string Text);
