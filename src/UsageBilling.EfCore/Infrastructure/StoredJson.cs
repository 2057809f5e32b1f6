using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;

namespace UsageBilling.EntityFrameworkCore;

/// <summary>
/// Small value objects (a key's <see cref="RequestLimits"/>, a <see cref="SpendBudget"/>) are stored as JSON text, so
/// that a new kind of limit or cap needs no schema change. Only settable properties are written (not computed ones
/// such as <see cref="SpendBudget.IsEmpty"/>), nulls are left out, and amounts are exact (<see cref="Money"/> writes
/// decimal units).
/// </summary>
internal static class StoredJson
{
    private static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web)
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        TypeInfoResolver = new DefaultJsonTypeInfoResolver { Modifiers = { WithoutComputedProperties } },
    };

    public static string? Write<T>(T? value) where T : class
        => value is null ? null : JsonSerializer.Serialize(value, Options);

    public static T? Read<T>(string? json) where T : class
        => json is null ? null : JsonSerializer.Deserialize<T>(json, Options);

    private static void WithoutComputedProperties(JsonTypeInfo type)
    {
        if (type.Kind != JsonTypeInfoKind.Object)
        {
            return;
        }

        for (var i = type.Properties.Count - 1; i >= 0; i--)
        {
            if (type.Properties[i].Set is null)
            {
                type.Properties.RemoveAt(i);
            }
        }
    }
}
