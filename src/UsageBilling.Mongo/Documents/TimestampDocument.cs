using MongoDB.Bson.Serialization.Attributes;

namespace UsageBilling.Mongo;

/// <summary>
/// A <see cref="DateTimeOffset"/> stored exactly: UTC ticks (100 ns, sortable and indexable) plus the offset in
/// minutes, so a value reads back equal to what was written, which a BSON date (milliseconds, UTC only) would not.
/// </summary>
internal sealed class TimestampDocument
{
    [BsonElement("t")]
    public long UtcTicks { get; set; }

    [BsonElement("o")]
    public int OffsetMinutes { get; set; }

    public static TimestampDocument From(DateTimeOffset value) => new()
    {
        UtcTicks = value.UtcTicks,
        OffsetMinutes = (int)value.Offset.TotalMinutes,
    };

    public static TimestampDocument? From(DateTimeOffset? value) => value is { } v ? From(v) : null;

    public DateTimeOffset ToDateTimeOffset()
    {
        var offset = TimeSpan.FromMinutes(OffsetMinutes);
        return new DateTimeOffset(UtcTicks + offset.Ticks, offset);
    }
}
