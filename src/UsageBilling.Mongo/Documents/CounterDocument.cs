using MongoDB.Bson;
using MongoDB.Bson.Serialization.Attributes;

namespace UsageBilling.Mongo;

/// <summary>A rate-limit or quota counter; a TTL index on <see cref="ExpiresAt"/> deletes it after its window.</summary>
[BsonIgnoreExtraElements]
internal sealed class CounterDocument
{
    [BsonId]
    public string Key { get; set; } = "";

    [BsonElement("v")]
    public long Value { get; set; }

    /// <summary>A BSON date, as TTL indexes require.</summary>
    [BsonElement("exp")]
    [BsonDateTimeOptions(Kind = DateTimeKind.Utc, Representation = BsonType.DateTime)]
    public DateTime ExpiresAt { get; set; }
}
