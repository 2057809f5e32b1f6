using System.Data;

namespace UsageBilling.EntityFrameworkCore.Tests;

/// <summary>The rewrite of <c>@name</c> parameters to PostgreSQL's positional ones, and the order values are bound in.</summary>
public sealed class PositionalSqlTests
{
    [Fact]
    public void Names_are_numbered_by_first_appearance_and_a_repeated_name_keeps_its_number()
    {
        var sql = PositionalSql.Of("UPDATE t SET a = CASE id WHEN @id0 THEN @charge0 WHEN @id10 THEN @charge10 END WHERE id IN (@id0, @id10) AND s = @s_1");

        Assert.Equal("UPDATE t SET a = CASE id WHEN $1 THEN $2 WHEN $3 THEN $4 END WHERE id IN ($1, $3) AND s = $5", sql.Sql);
        Assert.Equal(["@id0", "@charge0", "@id10", "@charge10", "@s_1"], sql.Names);
    }

    [Fact]
    public void Quoted_identifiers_and_literals_are_left_alone()
    {
        var sql = PositionalSql.Of("SELECT \"@col\", '@text', 'it''s @x' FROM \"t@\" WHERE a = @a AND b = '@a'");

        Assert.Equal("SELECT \"@col\", '@text', 'it''s @x' FROM \"t@\" WHERE a = $1 AND b = '@a'", sql.Sql);
        Assert.Equal(["@a"], sql.Names);
    }

    [Fact]
    public void Values_are_bound_in_position_order_whatever_order_they_were_added_in()
    {
        var sql = PositionalSql.Of("UPDATE b SET r = r - CASE a WHEN @account0 THEN @held0 END, v = v - CASE a WHEN @account0 THEN @charge0 END");
        List<(string, DbType, object?)> added = [("@account0", DbType.String, "acct"), ("@charge0", DbType.Int64, 7L), ("@held0", DbType.Int64, 5L)];

        var ordered = sql.Order(added);

        Assert.Equal(["acct", 5L, 7L], ordered.Select(p => p.Value));
        Assert.Equal([DbType.String, DbType.Int64, DbType.Int64], ordered.Select(p => p.Type));
    }

    [Fact]
    public void A_parameter_the_statement_uses_but_was_not_given_is_an_error()
    {
        var sql = PositionalSql.Of("SELECT @a, @b");

        var error = Assert.Throws<InvalidOperationException>(() => sql.Order([("@a", DbType.Int32, 1)]));
        Assert.Contains("@b", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_same_statement_text_is_rewritten_once()
    {
        var text = string.Concat("SELECT @a", "");

        Assert.Same(PositionalSql.Of(text), PositionalSql.Of(text));
    }
}
