using System.Runtime.CompilerServices;
using System.Text;

namespace UsageBilling.EntityFrameworkCore;

/// <summary>
/// PostgreSQL: a statement written with <c>@name</c> parameters, rewritten once to positional ones (<c>$1</c>, <c>$2</c>,
/// …, numbered in the order the names first appear). Npgsql sends a command whose parameters have no names as it is;
/// with names it parses and rewrites the SQL on every execution, which for a group's multi-row statements (tens of
/// kilobytes) was a large share of the host's CPU and allocations per call. Statements the stores keep (built once per
/// row count) are rewritten once, found again by reference.
/// </summary>
internal sealed class PositionalSql
{
    private static readonly ConditionalWeakTable<string, PositionalSql> Cache = new();

    private PositionalSql(string sql, string[] names)
    {
        Sql = sql;
        Names = names;
    }

    /// <summary>The statement with <c>$n</c> in place of each <c>@name</c>.</summary>
    public string Sql { get; }

    /// <summary>The parameter names, in position order (<c>Names[0]</c> is <c>$1</c>).</summary>
    public string[] Names { get; }

    public static PositionalSql Of(string sql) => Cache.GetValue(sql, static sql => Rewrite(sql));

    /// <summary>
    /// The values of <paramref name="parameters"/> in position order. Callers usually add them in that order (then
    /// nothing is looked up); otherwise they are found by name. A name the statement has and the parameters do not
    /// is an error, as it would be for the database.
    /// </summary>
    public IReadOnlyList<(string Name, System.Data.DbType Type, object? Value)> Order(List<(string Name, System.Data.DbType Type, object? Value)> parameters)
    {
        if (parameters.Count == Names.Length)
        {
            var inOrder = true;
            for (var i = 0; i < Names.Length && inOrder; i++)
            {
                inOrder = string.Equals(parameters[i].Name, Names[i], StringComparison.Ordinal);
            }

            if (inOrder)
            {
                return parameters;
            }
        }

        var byName = new Dictionary<string, (string, System.Data.DbType, object?)>(parameters.Count, StringComparer.Ordinal);
        foreach (var parameter in parameters)
        {
            byName[parameter.Name] = parameter;
        }

        var ordered = new (string, System.Data.DbType, object?)[Names.Length];
        for (var i = 0; i < Names.Length; i++)
        {
            ordered[i] = byName.TryGetValue(Names[i], out var parameter)
                ? parameter
                : throw new InvalidOperationException($"The statement uses parameter {Names[i]}, which was not given.");
        }

        return ordered;
    }

    private static PositionalSql Rewrite(string sql)
    {
        var text = new StringBuilder(sql.Length);
        var positions = new Dictionary<string, int>(StringComparer.Ordinal);
        var names = new List<string>();
        for (var i = 0; i < sql.Length; i++)
        {
            var c = sql[i];
            if (c is '\'' or '"')
            {
                // A literal or a quoted identifier, copied as it is up to its closing quote (a doubled quote stays inside).
                var end = sql.IndexOf(c, i + 1);
                end = end < 0 ? sql.Length - 1 : end;
                text.Append(sql, i, end - i + 1);
                i = end;
                continue;
            }

            if (c == '@' && i + 1 < sql.Length && IsNameChar(sql[i + 1]))
            {
                var start = i + 1;
                var stop = start;
                while (stop < sql.Length && IsNameChar(sql[stop]))
                {
                    stop++;
                }

                var name = sql[i..stop];
                if (!positions.TryGetValue(name, out var position))
                {
                    names.Add(name);
                    position = names.Count;
                    positions[name] = position;
                }

                text.Append('$').Append(position);
                i = stop - 1;
                continue;
            }

            text.Append(c);
        }

        return new PositionalSql(text.ToString(), [.. names]);
    }

    private static bool IsNameChar(char c) => char.IsAsciiLetterOrDigit(c) || c == '_';
}
