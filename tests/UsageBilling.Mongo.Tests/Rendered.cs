using MongoDB.Bson;
using MongoDB.Bson.IO;
using MongoDB.Bson.Serialization;
using MongoDB.Driver;

namespace UsageBilling.Mongo.Tests;

/// <summary>Renders driver definitions with the serializer registry, as the driver does before sending them, and compares BSON exactly (types included).</summary>
internal static class Rendered
{
    private static readonly JsonWriterSettings Canonical = new() { OutputMode = JsonOutputMode.CanonicalExtendedJson, Indent = true };

    public static RenderArgs<T> Args<T>() => new(BsonSerializer.LookupSerializer<T>(), BsonSerializer.SerializerRegistry);

    public static BsonDocument Of<T>(FilterDefinition<T> filter) => filter.Render(Args<T>());

    public static BsonValue Of<T>(UpdateDefinition<T> update) => update.Render(Args<T>());

    public static BsonDocument Of<T>(SortDefinition<T> sort) => sort.Render(Args<T>());

    public static BsonDocument KeysOf<T>(CreateIndexModel<T> index) => index.Keys.Render(Args<T>());

    /// <summary>
    /// Asserts that <paramref name="actual"/> is exactly the BSON written in <paramref name="expected"/> (shell syntax:
    /// <c>NumberLong(5)</c> is an Int64, a bare <c>5</c> an Int32), compared as canonical extended JSON so that a
    /// double or Int32 where an Int64 belongs fails.
    /// </summary>
    public static void AssertBson(string expected, BsonValue actual)
    {
        var parsed = expected.TrimStart().StartsWith('[')
            ? (BsonValue)BsonSerializer.Deserialize<BsonArray>(expected)
            : BsonDocument.Parse(expected);
        Assert.Equal(parsed.ToJson(Canonical), actual.ToJson(Canonical));
    }
}
