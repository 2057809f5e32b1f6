using System.Text.RegularExpressions;

namespace UsageBilling;

/// <summary>Normalises model names: case, provider prefixes (<c>openai/gpt-4o</c>) and dated snapshots (<c>gpt-4o-2024-08-06</c>, <c>claude-3-5-sonnet-20241022</c>).</summary>
internal static partial class ModelNames
{
    /// <summary>The names to try, most specific first: as given (lower-cased), without provider prefix, then without a date suffix.</summary>
    public static IEnumerable<string> Candidates(string model)
    {
        var name = model.Trim().ToLowerInvariant();
        yield return name;
        var slash = name.LastIndexOf('/');
        if (slash >= 0 && slash < name.Length - 1)
        {
            name = name[(slash + 1)..];
            yield return name;
        }

        var undated = DateSuffix().Replace(name, "");
        if (undated.Length > 0 && undated != name)
        {
            yield return undated;
        }
    }

    [GeneratedRegex(@"-(\d{4}-\d{2}-\d{2}|\d{8})$", RegexOptions.CultureInvariant)]
    private static partial Regex DateSuffix();
}
