namespace UsageBilling.DocsTests;

/// <summary>Every C# block in docs/*.md is a region of docs/snippets, which the solution build compiles.</summary>
public sealed class SnippetTests
{
    public static TheoryData<string, int> CSharpBlocks()
    {
        var data = new TheoryData<string, int>();
        foreach (var file in Docs.MarkdownFiles)
        {
            foreach (var block in Docs.Blocks(file).Where(IsCSharp))
            {
                data.Add(file, block.Line);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(CSharpBlocks))]
    public void A_csharp_block_equals_its_snippet_region(string file, int line)
    {
        var block = Docs.Blocks(file).Single(b => b.Line == line);
        Assert.True(block is { MarkerKind: "snippet", MarkerName: not null },
            $"{block}: a ```csharp block needs '<!-- snippet: name -->' on the line before it, naming a region of docs/snippets.");
        Assert.True(Docs.Regions.TryGetValue(block.MarkerName!, out var region),
            $"{block}: snippet '{block.MarkerName}' has no '// <snippet:{block.MarkerName}>' region in docs/snippets.");

        var expected = Docs.Normalize(region.Text);
        var actual = Docs.Normalize(block.Text);
        if (expected != actual)
        {
            var expectedLines = expected.Split('\n');
            var actualLines = actual.Split('\n');
            var first = Enumerable.Range(0, Math.Max(expectedLines.Length, actualLines.Length))
                .First(i => i >= expectedLines.Length || i >= actualLines.Length || expectedLines[i] != actualLines[i]);
            Assert.Fail($"{block}: snippet '{block.MarkerName}' differs from {region.File}:{region.Line} at its line {first + 1}:\n" +
                $"  docs:    {(first < actualLines.Length ? actualLines[first] : "(ends)")}\n" +
                $"  snippet: {(first < expectedLines.Length ? expectedLines[first] : "(ends)")}");
        }
    }

    [Fact]
    public void The_docs_have_csharp_blocks_and_every_region_is_shown()
    {
        var shown = Docs.MarkdownFiles.SelectMany(Docs.Blocks).Where(IsCSharp).Select(b => b.MarkerName).ToHashSet(StringComparer.Ordinal);
        Assert.NotEmpty(shown);
        var unused = Docs.Regions.Keys.Where(name => !shown.Contains(name)).Order(StringComparer.Ordinal).ToList();
        Assert.True(unused.Count == 0, "Snippet regions no doc shows: " + string.Join(", ", unused));
    }

    [Fact]
    public void A_snippet_marker_is_followed_by_a_csharp_block()
    {
        var misplaced = Docs.MarkdownFiles.SelectMany(Docs.Blocks).Where(b => b.MarkerKind == "snippet" && !IsCSharp(b)).ToList();
        Assert.True(misplaced.Count == 0, "'<!-- snippet: -->' before a block that is not ```csharp: " + string.Join(", ", misplaced));
    }

    private static bool IsCSharp(FencedBlock block) => block.Language is "csharp" or "cs" or "c#";
}
