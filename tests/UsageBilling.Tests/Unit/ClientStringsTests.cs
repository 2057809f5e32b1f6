namespace UsageBilling.Tests.Unit;

public sealed class ClientStringsTests
{
    [Theory]
    [InlineData("gpt-4o-mini")]
    [InlineData("café ünïcode")]
    [InlineData("emoji \U0001F600 pair")]
    [InlineData("")]
    public void A_clean_string_is_returned_as_it_is(string value)
        => Assert.Same(value, ClientStrings.Normalize(value));

    [Fact]
    public void Control_characters_and_lone_surrogates_are_replaced_wherever_they_stand()
    {
        // Built here, not as theory data: test discovery does not carry a lone surrogate through intact.
        (string Value, string Expected)[] cases =
        [
            ("model\u0000name", "model\uFFFDname"),
            ("model\nname", "model\uFFFDname"),
            ("é then \u007F", "é then \uFFFD"),
            ("ascii then \u0085", "ascii then \uFFFD"),
            ("lone \uD800 high", "lone \uFFFD high"),
            ("lone \uDC00 low", "lone \uFFFD low"),
            ("\U0001F600 then \u0001", "\U0001F600 then \uFFFD"),
        ];

        foreach (var (value, expected) in cases)
        {
            Assert.Equal(expected, ClientStrings.Normalize(value));
        }
    }

    [Fact]
    public void A_long_string_is_cut_but_never_between_the_halves_of_a_pair()
    {
        var value = new string('a', ClientStrings.MaxLength - 1) + "\U0001F600";

        Assert.Equal(new string('a', ClientStrings.MaxLength - 1), ClientStrings.Normalize(value));
    }
}
