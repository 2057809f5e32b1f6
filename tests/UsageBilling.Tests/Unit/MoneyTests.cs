using System.Text.Json;

namespace UsageBilling.Tests.Unit;

public sealed class MoneyTests
{
    [Theory]
    [InlineData("0.000000001", 1L)]
    [InlineData("12.5", 12_500_000_000L)]
    [InlineData("-3", -3_000_000_000L)]
    public void Units_convert_exactly_to_nanos(string units, long nanos)
    {
        var money = Money.FromUnits(decimal.Parse(units, System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(nanos, money.Nanos);
        Assert.Equal(units, money.ToString());
    }

    [Fact]
    public void More_precision_than_a_nano_unit_is_refused_not_rounded()
    {
        Assert.False(Money.TryFromUnits(0.0000000001m, out _));
        Assert.Throws<ArgumentOutOfRangeException>(() => Money.FromUnits(1.0000000005m));
        Assert.False(Money.TryFromUnits(10_000_000_000m, out _));
    }

    [Fact]
    public void Arithmetic_is_exact_and_checked()
    {
        var tenth = Money.FromUnits(0.1m);
        var sum = Money.Zero;
        for (var i = 0; i < 10; i++)
        {
            sum += tenth;
        }

        Assert.Equal(Money.FromUnits(1m), sum);
        Assert.Throws<OverflowException>(() => new Money(long.MaxValue) + new Money(1));
    }

    [Fact]
    public void Subtraction_and_negation_throw_instead_of_wrapping_around()
    {
        Assert.Throws<OverflowException>(() => new Money(long.MinValue) - new Money(1));
        Assert.Throws<OverflowException>(() => new Money(long.MaxValue) - new Money(-1));
        Assert.Throws<OverflowException>(() => -new Money(long.MinValue));
        Assert.Throws<OverflowException>(() => new Money(long.MaxValue) * 2);
        Assert.Equal(new Money(long.MinValue + 1), -new Money(long.MaxValue));
        Assert.Equal(Money.FromUnits(-2.5m), Money.FromUnits(1m) - Money.FromUnits(3.5m));
    }

    [Theory]
    [InlineData(-3, 5)]
    [InlineData(5, -3)]
    [InlineData(2, 2)]
    public void Min_and_max_pick_the_smaller_and_the_larger_whatever_the_order(long a, long b)
    {
        var left = Money.FromUnits(a);
        var right = Money.FromUnits(b);

        Assert.Equal(Money.FromUnits(Math.Max(a, b)), Money.Max(left, right));
        Assert.Equal(Money.FromUnits(Math.Min(a, b)), Money.Min(left, right));
        Assert.Equal(Money.Zero, Money.Max(Money.Zero, Money.FromUnits(-7m)));
    }

    [Fact]
    public void Configuration_binds_amounts_from_decimal_strings()
    {
        var configuration = new Microsoft.Extensions.Configuration.ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?> { ["Alerts:LowBalance"] = "5.25", ["Budget:Daily"] = "0.000000001" })
            .Build();
        var options = new UsageBillingOptions();
        Microsoft.Extensions.Configuration.ConfigurationBinder.Bind(configuration, options);
        Assert.Equal(Money.FromUnits(5.25m), options.Alerts.LowBalance);
        Assert.Equal(new Money(1), Microsoft.Extensions.Configuration.ConfigurationBinder.Get<SpendBudget>(configuration.GetSection("Budget"))!.Daily);
    }

    [Fact]
    public void Json_is_a_number_in_currency_units()
    {
        Assert.Equal("0.000000123", JsonSerializer.Serialize(Money.FromUnits(0.000000123m)));
        Assert.Equal(Money.FromUnits(42.5m), JsonSerializer.Deserialize<Money>("42.5"));
        Assert.Throws<JsonException>(() => JsonSerializer.Deserialize<Money>("\"42.5\""));
        Assert.Throws<JsonException>(() => JsonSerializer.Deserialize<Money>("0.0000000001"));
    }

    [Fact]
    public void The_whole_64_bit_range_of_nanos_converts_from_units_and_one_nano_beyond_does_not()
    {
        Assert.Equal(long.MaxValue, Money.FromUnits(9_223_372_036.854775807m).Nanos);
        Assert.Equal(long.MinValue, Money.FromUnits(-9_223_372_036.854775808m).Nanos);
        Assert.False(Money.TryFromUnits(9_223_372_036.854775808m, out var above));
        Assert.Equal(Money.Zero, above);
        Assert.False(Money.TryFromUnits(-9_223_372_036.854775809m, out _));
        Assert.False(Money.TryFromUnits(decimal.MaxValue, out _));
        Assert.Throws<ArgumentOutOfRangeException>(() => Money.FromUnits(decimal.MinValue));
    }

    [Fact]
    public void Zero_is_neither_positive_nor_negative()
    {
        Assert.True(Money.Zero.IsZero);
        Assert.False(Money.Zero.IsPositive);
        Assert.False(Money.Zero.IsNegative);
        Assert.True(new Money(1).IsPositive);
        Assert.False(new Money(1).IsNegative);
        Assert.False(new Money(1).IsZero);
        Assert.True(new Money(-1).IsNegative);
        Assert.False(new Money(-1).IsPositive);
    }

    [Fact]
    public void Comparisons_order_amounts_by_value_and_equal_amounts_are_equal_everywhere()
    {
        var small = Money.FromUnits(1m);
        var same = new Money(1_000_000_000);
        var large = Money.FromUnits(1.000000001m);

        Assert.True(small == same);
        Assert.False(small != same);
        Assert.True(small != large);
        Assert.False(small == large);
        Assert.True(small < large);
        Assert.False(small < same);
        Assert.True(large > small);
        Assert.False(same > small);
        Assert.True(small <= same);
        Assert.False(large <= small);
        Assert.True(small >= same);
        Assert.False(small >= large);
        Assert.True(small.Equals((object)same));
        Assert.False(small.Equals((object)large));
        Assert.False(small.Equals(1_000_000_000L));
        Assert.Equal(small.GetHashCode(), same.GetHashCode());
        Assert.Equal(0, small.CompareTo(same));
        Assert.True(small.CompareTo(large) < 0);
        Assert.True(large.CompareTo(small) > 0);
        Assert.Equal([small, large], new[] { large, small }.OrderBy(m => m).ToArray());
    }

    [Fact]
    public void The_type_converter_reads_decimal_strings_writes_them_back_and_refuses_anything_else()
    {
        var converter = System.ComponentModel.TypeDescriptor.GetConverter(typeof(Money));

        Assert.True(converter.CanConvertFrom(typeof(string)));
        Assert.False(converter.CanConvertFrom(typeof(Guid)));
        Assert.Equal(Money.FromUnits(1.25m), converter.ConvertFromInvariantString("1.25"));
        Assert.Equal("1.25", converter.ConvertToInvariantString(Money.FromUnits(1.25m)));
        Assert.Throws<FormatException>(() => converter.ConvertFromInvariantString("1,25 credits"));
        Assert.Throws<FormatException>(() => converter.ConvertFromInvariantString("0.0000000001"));
        Assert.Throws<NotSupportedException>(() => converter.ConvertFrom(null, System.Globalization.CultureInfo.InvariantCulture, Guid.Empty));
        Assert.Throws<NotSupportedException>(() => converter.ConvertTo(null, System.Globalization.CultureInfo.InvariantCulture, Money.FromUnits(1m), typeof(Guid)));
    }
}
