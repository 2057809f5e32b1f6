using MongoDB.Driver;

namespace UsageBilling.Mongo;

/// <summary>Recognises the server errors the stores treat as outcomes rather than failures.</summary>
internal static class MongoErrors
{
    /// <summary>The server's duplicate key error code.</summary>
    public const int DuplicateKey = 11000;

    public static bool IsDuplicateKey(MongoException exception) => exception switch
    {
        MongoWriteException write => write.WriteError?.Category == ServerErrorCategory.DuplicateKey,
        MongoCommandException command => command.Code == DuplicateKey,
        _ => false,
    };
}
