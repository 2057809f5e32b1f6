namespace UsageBilling.EntityFrameworkCore.Tests;

public sealed class ParameterNamesTests
{
    [Theory]
    [InlineData(0, "@id0")]
    [InlineData(17, "@id17")]
    [InlineData(2047, "@id2047")]
    [InlineData(5000, "@id5000")] // past the names kept: made each time, still right
    public void A_row_parameter_is_the_prefix_and_the_row_number(int row, string expected)
        => Assert.Equal(expected, ParameterNames.Of("@id", row));

    [Fact]
    public void A_kept_name_is_made_once_and_prefixes_do_not_share_names()
    {
        Assert.Same(ParameterNames.Of("@charge", 3), ParameterNames.Of("@charge", 3));
        Assert.Equal("@held3", ParameterNames.Of("@held", 3));
    }
}
