using System.Buffers;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace UsageBilling.EntityFrameworkCore;

/// <summary>
/// SQLite has no array parameters: a group's rows travel as one JSON array of rows (<c>[["r1", 5], ["r2", 7]]</c>),
/// bound as one parameter and read back as a table with <c>jsonb_each</c> (<see cref="Source"/>). One statement text
/// serves any number of rows, and binding costs one parameter instead of one per row and column (SQLite finds a named
/// parameter by a linear search of the statement's names, so binding n named parameters costs n²/2 comparisons).
/// </summary>
internal static class JsonRows
{
    /// <summary>The parameter that carries the rows.</summary>
    public const string Parameter = "@rows";

    private static readonly JsonWriterOptions WriterOptions = new()
    {
        // Text as UTF-8, not \u escapes: SQLite reads both; quotes, backslashes and control characters are still escaped.
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        SkipValidation = true,
    };

    [ThreadStatic]
    private static ArrayBufferWriter<byte>? t_buffer;

    /// <summary>
    /// The rows as a table aliased <paramref name="alias"/> whose columns are <paramref name="columns"/>, in the order
    /// of <see cref="Of"/>'s arrays: <c>(SELECT value ->> 0 AS id, value ->> 1 AS charge FROM jsonb_each(…)) AS u</c>.
    /// </summary>
    public static string Source(string alias, params ReadOnlySpan<string> columns) => $"({Select(columns)}) AS {alias}";

    /// <summary>The rows as a <c>SELECT</c> of <paramref name="columns"/> (for an <c>INSERT … SELECT</c> or a <c>WITH</c>).</summary>
    public static string Select(params ReadOnlySpan<string> columns)
    {
        var list = new string[columns.Length];
        for (var i = 0; i < columns.Length; i++)
        {
            list[i] = $"value ->> {i} AS {columns[i]}";
        }

        // The parameter is cast to text (a blob would be read as SQLite's binary JSON). jsonb_each, not json_each: each row
        // comes out as binary JSON, which ->> reads in place; json_each would render every row as text and ->> would
        // parse that text again for each column (in a profile of group writes, SQLite's JSON functions: 8 % of the time → 4 %).
        return $"SELECT {string.Join(", ", list)} FROM jsonb_each(CAST({Parameter} AS TEXT))";
    }

    /// <summary>
    /// The UTF-8 JSON of <paramref name="rows"/> rows whose i-th value of column c is <c>columns[c][i]</c>. A column is a
    /// <c>string?[]</c>, <c>long[]</c>, <c>long?[]</c>, <c>int[]</c>, <c>int?[]</c>, <c>double?[]</c> or <c>bool?[]</c>
    /// with at least <paramref name="rows"/> values.
    /// </summary>
    public static byte[] Of(int rows, params ReadOnlySpan<Array> columns)
    {
        var buffer = t_buffer ??= new ArrayBufferWriter<byte>(4096);
        buffer.ResetWrittenCount();
        using (var writer = new Utf8JsonWriter(buffer, WriterOptions))
        {
            writer.WriteStartArray();
            for (var i = 0; i < rows; i++)
            {
                writer.WriteStartArray();
                foreach (var column in columns)
                {
                    Write(writer, column, i);
                }

                writer.WriteEndArray();
            }

            writer.WriteEndArray();
        }

        var json = buffer.WrittenSpan.ToArray();
        if (buffer.Capacity > 1 << 20)
        {
            t_buffer = null; // keep no large buffer for the thread's lifetime after an unusually large group
        }

        return json;
    }

    private static void Write(Utf8JsonWriter writer, Array column, int row)
    {
        switch (column)
        {
            case string?[] strings when strings[row] is { } text:
                writer.WriteStringValue(text);
                break;
            case long[] longs:
                writer.WriteNumberValue(longs[row]);
                break;
            case long?[] longs when longs[row] is { } number:
                writer.WriteNumberValue(number);
                break;
            case int[] ints:
                writer.WriteNumberValue(ints[row]);
                break;
            case int?[] ints when ints[row] is { } number:
                writer.WriteNumberValue(number);
                break;
            case double?[] doubles when doubles[row] is { } number:
                writer.WriteNumberValue(number);
                break;
            case bool?[] booleans when booleans[row] is { } flag:
                writer.WriteBooleanValue(flag);
                break;
            case string?[] or long?[] or int?[] or double?[] or bool?[]:
                writer.WriteNullValue();
                break;
            default:
                throw new ArgumentException($"A JSON row column cannot be a {column.GetType()}.", nameof(column));
        }
    }
}
