using System.Collections.Concurrent;
using System.Globalization;

namespace UsageBilling.EntityFrameworkCore;

/// <summary>
/// The parameter names of multi-row statements (<c>@id0</c>, <c>@id1</c>, …), made once per prefix and row instead
/// of once per parameter of every group.
/// </summary>
internal static class ParameterNames
{
    /// <summary>
    /// Rows whose names are kept, made when first asked for: a group has at most 256 calls (<c>CallAdmissions.MaxBatch</c>,
    /// <c>CallCompletions.MaxBatch</c>), each with up to five counter windows.
    /// </summary>
    private const int KeptRows = 2048;

    private static readonly ConcurrentDictionary<string, string?[]> Names = new(StringComparer.Ordinal);

    public static string Of(string prefix, int row)
    {
        if ((uint)row >= KeptRows)
        {
            return prefix + row.ToString(CultureInfo.InvariantCulture);
        }

        var names = Names.GetOrAdd(prefix, static _ => new string?[KeptRows]);

        // Two threads may both make a missing name; either copy is the same text.
        return names[row] ??= prefix + row.ToString(CultureInfo.InvariantCulture);
    }
}
