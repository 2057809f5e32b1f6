using System.Data;
using Microsoft.Data.Sqlite;

namespace UsageBilling.EntityFrameworkCore.Tests;

/// <summary>
/// A group's rows travel to SQLite as one JSON array (<see cref="JsonRows"/>) and come back out of <c>jsonb_each</c>:
/// every value must come back exactly as it went in, whatever its characters or size.
/// </summary>
public sealed class JsonRowsTests
{
    [Fact]
    public void Text_comes_back_exactly_whatever_its_characters()
    {
        string?[] texts =
        [
            "plain", "", null, "quote \" and backslash \\ and slash /", "tab\tnewline\ncarriage\rreturn", "\u0001\u001f control",
            "ünïcödé", "emoji 😀 and 𝄞", "right-to-left \u202Eabc", "it's 'quoted'", "[\"json\", {\"looking\": 1}]", "nul \0 inside",
        ];

        var rows = RoundTrip(texts.Length, [texts], "t");

        Assert.Equal(texts, rows.Select(r => r[0] is DBNull ? null : (string)r[0]));
    }

    [Fact]
    public void Text_that_is_not_valid_UTF_16_is_stored_as_a_parameter_would_store_it()
    {
        string?[] texts = ["lone high \uD800 surrogate", "lone low \uDC00", "reversed \uDE00\uD83D pair"];

        var rows = RoundTrip(texts.Length, [texts], "t");

        using var connection = new SqliteConnection("Data Source=:memory:");
        connection.Open();
        foreach (var (text, row) in texts.Zip(rows))
        {
            using var command = connection.CreateCommand();
            command.CommandText = "SELECT @p";
            command.Parameters.AddWithValue("@p", text);
            Assert.Equal(command.ExecuteScalar(), row[0]);
        }
    }

    [Fact]
    public void Whole_numbers_come_back_exactly_at_the_ends_of_their_range()
    {
        long[] longs = [0, 1, -1, long.MaxValue, long.MinValue, 9_007_199_254_740_993]; // 2^53 + 1 is not a double
        long?[] nullableLongs = [null, long.MaxValue, long.MinValue, -5, 0, 6_385_000_000_000_000_000];
        int[] ints = [int.MaxValue, int.MinValue, 0, 7, -7, 1];
        int?[] nullableInts = [null, 1, null, int.MinValue, 3, null];

        var rows = RoundTrip(longs.Length, [longs, nullableLongs, ints, nullableInts], "a", "b", "c", "d");

        Assert.Equal(longs, rows.Select(r => (long)r[0]));
        Assert.Equal(nullableLongs, rows.Select(r => r[1] is DBNull ? (long?)null : (long)r[1]));
        Assert.Equal(ints, rows.Select(r => checked((int)(long)r[2])));
        Assert.Equal(nullableInts, rows.Select(r => r[3] is DBNull ? (int?)null : checked((int)(long)r[3])));
    }

    [Fact]
    public void Fractions_and_flags_come_back_as_they_were()
    {
        double?[] doubles = [0.1, 1e-7, 12345.678, null, -0.5, 1.7976931348623157e308];
        bool?[] flags = [true, false, null, true, null, false];

        var rows = RoundTrip(doubles.Length, [doubles, flags], "d", "f");

        Assert.Equal(doubles, rows.Select(r => r[0] is DBNull ? (double?)null : (double)r[0]));
        Assert.Equal(flags, rows.Select(r => r[1] is DBNull ? (bool?)null : (long)r[1] != 0));
    }

    [Fact]
    public void Only_the_first_rows_are_sent_and_many_rows_keep_their_order()
    {
        var ids = Enumerable.Range(0, 2_000).Select(i => $"id-{i}").ToArray();
        var amounts = Enumerable.Range(0, 2_000).Select(i => (long)i * 1_000_000_007).ToArray();

        var rows = RoundTrip(1_500, [ids, amounts], "id", "amount");

        Assert.Equal(ids[..1_500], rows.Select(r => (string)r[0]));
        Assert.Equal(amounts[..1_500], rows.Select(r => (long)r[1]));
    }

    [Fact]
    public void A_column_of_another_type_is_refused_naming_the_type()
    {
        var refused = Assert.Throws<ArgumentException>(() => JsonRows.Of(1, new decimal[] { 1m }));

        Assert.Contains("System.Decimal[]", refused.Message, StringComparison.Ordinal);
    }

    /// <summary>Sends the rows through <see cref="JsonRows.Select"/> on a real SQLite connection and reads them back.</summary>
    private static List<object[]> RoundTrip(int count, Array[] columns, params string[] names)
    {
        using var connection = new SqliteConnection("Data Source=:memory:");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = JsonRows.Select(names);
        command.Parameters.Add(new SqliteParameter(JsonRows.Parameter, JsonRows.Of(count, columns)) { DbType = DbType.Binary });

        var rows = new List<object[]>();
        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            var row = new object[reader.FieldCount];
            reader.GetValues(row);
            rows.Add(row);
        }

        return rows;
    }
}
