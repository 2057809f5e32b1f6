using System.ComponentModel;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace UsageBilling;

/// <summary>
/// An exact amount of money (or credits) in the account's currency unit, stored as a whole number of
/// nano-units (1e-9 of the unit). There is no floating point anywhere in its arithmetic.
/// </summary>
/// <remarks>
/// The range is ±9,223,372,036 currency units, enough for any single account balance this library is meant for.
/// Serialized to JSON as a number in currency units (for example <c>12.5</c>).
/// </remarks>
[JsonConverter(typeof(MoneyJsonConverter))]
[TypeConverter(typeof(MoneyTypeConverter))]
[DebuggerDisplay("{ToString(),nq}")]
public readonly struct Money : IEquatable<Money>, IComparable<Money>
{
    /// <summary>The number of nano-units in one currency unit.</summary>
    public const long NanosPerUnit = 1_000_000_000;

    private const decimal NanosPerUnitDecimal = NanosPerUnit;

    /// <summary>Creates an amount from a whole number of nano-units.</summary>
    public Money(long nanos) => Nanos = nanos;

    /// <summary>The amount in nano-units (1e-9 of the currency unit).</summary>
    public long Nanos { get; }

    /// <summary>Zero.</summary>
    public static Money Zero => default;

    /// <summary>Whether the amount is zero.</summary>
    public bool IsZero => Nanos == 0;

    /// <summary>Whether the amount is below zero.</summary>
    public bool IsNegative => Nanos < 0;

    /// <summary>Whether the amount is above zero.</summary>
    public bool IsPositive => Nanos > 0;

    /// <summary>
    /// Creates an amount from a value in currency units. Throws when the value has more precision than
    /// a nano-unit or does not fit.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is not representable exactly.</exception>
    public static Money FromUnits(decimal units)
    {
        if (!TryFromUnits(units, out var money))
        {
            throw new ArgumentOutOfRangeException(nameof(units), units,
                "The amount must be a multiple of 0.000000001 and between -9223372036 and 9223372036 units.");
        }

        return money;
    }

    /// <summary>Tries to create an amount from a value in currency units without losing precision.</summary>
    public static bool TryFromUnits(decimal units, out Money money)
    {
        money = default;
        decimal nanos;
        try
        {
            nanos = units * NanosPerUnitDecimal;
        }
        catch (OverflowException)
        {
            return false;
        }

        if (nanos != decimal.Truncate(nanos) || nanos > long.MaxValue || nanos < long.MinValue)
        {
            return false;
        }

        money = new Money((long)nanos);
        return true;
    }

    /// <summary>The amount in currency units.</summary>
    public decimal ToUnits() => Nanos / NanosPerUnitDecimal;

    /// <summary>Adds two amounts, throwing on overflow.</summary>
    public static Money operator +(Money left, Money right) => new(checked(left.Nanos + right.Nanos));

    /// <summary>Subtracts two amounts, throwing on overflow.</summary>
    public static Money operator -(Money left, Money right) => new(checked(left.Nanos - right.Nanos));

    /// <summary>Negates an amount.</summary>
    public static Money operator -(Money value) => new(checked(-value.Nanos));

    /// <summary>Multiplies an amount by a whole quantity, throwing on overflow.</summary>
    public static Money operator *(Money left, long quantity) => new(checked(left.Nanos * quantity));

    /// <inheritdoc cref="IEquatable{T}.Equals(T)"/>
    public static bool operator ==(Money left, Money right) => left.Nanos == right.Nanos;

    /// <summary>Whether two amounts differ.</summary>
    public static bool operator !=(Money left, Money right) => left.Nanos != right.Nanos;

    /// <summary>Compares two amounts.</summary>
    public static bool operator <(Money left, Money right) => left.Nanos < right.Nanos;

    /// <summary>Compares two amounts.</summary>
    public static bool operator >(Money left, Money right) => left.Nanos > right.Nanos;

    /// <summary>Compares two amounts.</summary>
    public static bool operator <=(Money left, Money right) => left.Nanos <= right.Nanos;

    /// <summary>Compares two amounts.</summary>
    public static bool operator >=(Money left, Money right) => left.Nanos >= right.Nanos;

    /// <summary>The smaller of two amounts.</summary>
    public static Money Min(Money left, Money right) => left.Nanos <= right.Nanos ? left : right;

    /// <summary>The larger of two amounts.</summary>
    public static Money Max(Money left, Money right) => left.Nanos >= right.Nanos ? left : right;

    /// <inheritdoc/>
    public bool Equals(Money other) => Nanos == other.Nanos;

    /// <inheritdoc/>
    public override bool Equals(object? obj) => obj is Money other && Equals(other);

    /// <inheritdoc/>
    public override int GetHashCode() => Nanos.GetHashCode();

    /// <inheritdoc/>
    public int CompareTo(Money other) => Nanos.CompareTo(other.Nanos);

    /// <summary>The amount in currency units, invariant culture, without trailing zeros.</summary>
    public override string ToString() => ToUnits().ToString("0.#########", CultureInfo.InvariantCulture);
}

/// <summary>Converts <see cref="Money"/> from and to a decimal string in currency units, so configuration can bind it (<c>"LowBalance": 5</c>).</summary>
internal sealed class MoneyTypeConverter : TypeConverter
{
    public override bool CanConvertFrom(ITypeDescriptorContext? context, Type sourceType) => sourceType == typeof(string) || base.CanConvertFrom(context, sourceType);

    public override object? ConvertFrom(ITypeDescriptorContext? context, CultureInfo? culture, object value)
    {
        if (value is string text)
        {
            if (decimal.TryParse(text, NumberStyles.Number, CultureInfo.InvariantCulture, out var units) && Money.TryFromUnits(units, out var money))
            {
                return money;
            }

            throw new FormatException($"'{text}' is not an amount: use a decimal number with at most 9 decimal places.");
        }

        return base.ConvertFrom(context, culture, value);
    }

    public override object? ConvertTo(ITypeDescriptorContext? context, CultureInfo? culture, object? value, Type destinationType)
        => value is Money money && destinationType == typeof(string) ? money.ToString() : base.ConvertTo(context, culture, value, destinationType);
}

/// <summary>Reads and writes <see cref="Money"/> as a JSON number in currency units.</summary>
internal sealed class MoneyJsonConverter : JsonConverter<Money>
{
    public override Money Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        if (reader.TokenType != JsonTokenType.Number || !reader.TryGetDecimal(out var units) || !Money.TryFromUnits(units, out var money))
        {
            throw new JsonException("An amount must be a JSON number with at most 9 decimal places.");
        }

        return money;
    }

    public override void Write(Utf8JsonWriter writer, Money value, JsonSerializerOptions options)
        => writer.WriteNumberValue(value.ToUnits());
}
