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
}
