using System.Globalization;

namespace UsageBilling;

/// <summary>
/// Marks an endpoint (a minimal API handler, controller or action) as metered: callers need an API key, each call
/// is counted against the key's limits and charged. <c>.WithCost(...)</c> and <c>.WithPrice(...)</c> add this same
/// attribute, so minimal APIs and controllers share one code path.
/// </summary>
[AttributeUsage(AttributeTargets.Class | AttributeTargets.Method, AllowMultiple = false, Inherited = true)]
public sealed class MeteredAttribute : Attribute
{
    /// <summary>Meters the endpoint at the price named by <see cref="PriceName"/>.</summary>
    public MeteredAttribute()
    {
    }

    /// <summary>Meters the endpoint at a fixed price per call, in currency units (for example <c>"0.002"</c>).</summary>
    /// <param name="cost">A decimal number in invariant culture, with at most 9 decimal places.</param>
    public MeteredAttribute(string cost)
    {
        if (!decimal.TryParse(cost, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var units) || !Money.TryFromUnits(units, out var money))
        {
            throw new ArgumentException($"'{cost}' is not a valid price: use a non-negative decimal number with at most 9 decimal places.", nameof(cost));
        }

        Cost = money;
    }

    internal MeteredAttribute(Money cost)
    {
        if (cost.IsNegative)
        {
            throw new ArgumentOutOfRangeException(nameof(cost), cost, "A price cannot be negative.");
        }

        Cost = cost;
    }

    /// <summary>The fixed price per call, if one was given.</summary>
    public Money? Cost { get; }

    /// <summary>The name of a price in <see cref="PricingOptions.Endpoints"/> (resolved through <see cref="IPricingCatalog"/>), used when <see cref="Cost"/> is not set.</summary>
    public string? PriceName { get; set; }
}
