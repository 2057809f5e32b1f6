using MongoDB.Bson;
using MongoDB.Driver;

namespace UsageBilling.Mongo;

/// <summary>
/// The MongoDB <see cref="IUsageStore"/>: the request id is the <c>_id</c>, batches are inserted unordered and
/// duplicate-key errors are skipped, so a retried batch never duplicates a record.
/// </summary>
internal sealed class MongoUsageStore(MongoBillingDatabase database) : IUsageStore
{
    public async ValueTask AppendAsync(IReadOnlyList<UsageRecord> records, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(records);
        if (records.Count == 0)
        {
            return;
        }

        try
        {
            await database.Usage.InsertManyAsync(records.Select(UsageRecordDocument.From), UsageDefinitions.InsertOptions, cancellationToken)
                .ConfigureAwait(false);
        }
        catch (MongoBulkWriteException<UsageRecordDocument> ex) when (ex.WriteConcernError is null
            && ex.WriteErrors.All(e => e.Category == ServerErrorCategory.DuplicateKey))
        {
            // Records already stored (earlier in this batch or in an earlier one): skipped, every other record was written.
        }
    }

    public async ValueTask<UsagePage> QueryAsync(UsageQuery query, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(query);
        ArgumentOutOfRangeException.ThrowIfLessThan(query.Limit, 1);
        var documents = await database.Usage.Find(UsageDefinitions.Query(query))
            .Sort(UsageDefinitions.NewestFirst)
            .Limit(query.Limit + 1)
            .ToListAsync(cancellationToken).ConfigureAwait(false);
        var records = documents.Take(query.Limit).Select(d => d.ToRecord()).ToList();
        var next = documents.Count > query.Limit ? UsageCursor.Encode(records[^1]) : null;
        return new UsagePage(records, next);
    }

    public async ValueTask<IReadOnlyList<UsageSummary>> SummarizeAsync(UsageSummaryQuery query, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(query);
        if (query.Limit is <= 0)
        {
            return [];
        }

        var pipeline = PipelineDefinition<UsageRecordDocument, BsonDocument>.Create(UsageDefinitions.Summary(query));
        var rows = await database.Usage.Aggregate(pipeline, UsageDefinitions.SummaryOptions, cancellationToken)
            .ToListAsync(cancellationToken).ConfigureAwait(false);
        var summaries = rows.Select(UsageDefinitions.ToSummary).ToList();
        if (summaries.Count == 0 && query.GroupBy == UsageGrouping.None)
        {
            summaries.Add(new UsageSummary());
        }

        return summaries;
    }
}
