using Xunit;

namespace UsageBilling.Testing;

/// <summary>The behaviour every <see cref="IUsageStore"/> must have.</summary>
public abstract class UsageStoreSpecification
{
    private static readonly DateTimeOffset Start = new(2026, 11, 1, 0, 0, 0, TimeSpan.Zero);

    /// <summary>
    /// Creates the store under test. It may share state with stores created earlier in the class. To skip the class
    /// visibly when its backend is not available, call <c>Skip.If(...)</c> (Xunit.SkippableFact) here.
    /// </summary>
    protected abstract ValueTask<IUsageStore> CreateStoreAsync();

    [SkippableFact]
    public async Task Appended_records_are_read_back_with_every_field()
    {
        var store = await CreateStoreAsync();
        var account = NewId("acct");
        var record = NewRecord(account, Start) with
        {
            IdempotencyKey = "idem-1",
            Outcome = UsageOutcomes.Charged,
            Cost = Money.FromUnits(0.000000123m),
            Model = "gpt-4o",
            InputTokens = 1200,
            OutputTokens = 300,
            CachedInputTokens = 1024,
            TokensEstimated = true,
            Streamed = true,
            ClientAborted = true,
        };
        await store.AppendAsync([record]);

        var page = await store.QueryAsync(new UsageQuery { AccountId = account });
        var read = Assert.Single(page.Records);
        Assert.Equal(record with { DurationMs = read.DurationMs }, read);
        Assert.Equal(record.DurationMs, read.DurationMs, 3);
        Assert.Null(page.NextCursor);
    }

    [SkippableFact]
    public async Task Appending_is_idempotent_by_request_id()
    {
        var store = await CreateStoreAsync();
        var account = NewId("acct");
        var a = NewRecord(account, Start);
        var b = NewRecord(account, Start.AddSeconds(1));
        await store.AppendAsync([a, b, a]);
        await store.AppendAsync([b, NewRecord(account, Start.AddSeconds(2)) with { RequestId = a.RequestId }]);

        var page = await store.QueryAsync(new UsageQuery { AccountId = account });
        Assert.Equal(2, page.Records.Count);
    }

    [SkippableFact]
    public async Task Queries_filter_by_account_key_and_half_open_period()
    {
        var store = await CreateStoreAsync();
        var account = NewId("acct");
        var key = NewId("key");
        await store.AppendAsync(
        [
            NewRecord(account, Start.AddMinutes(-1)) with { KeyId = key },
            NewRecord(account, Start) with { KeyId = key },
            NewRecord(account, Start.AddHours(1)),
            NewRecord(account, Start.AddDays(1)) with { KeyId = key },
            NewRecord(NewId("acct"), Start) with { KeyId = key },
        ]);

        var inPeriod = await store.QueryAsync(new UsageQuery { AccountId = account, From = Start, To = Start.AddDays(1) });
        Assert.Equal([Start.AddHours(1), Start], inPeriod.Records.Select(r => r.Timestamp));

        var byKey = await store.QueryAsync(new UsageQuery { AccountId = account, KeyId = key });
        Assert.Equal(3, byKey.Records.Count);
        var keyEverywhere = await store.QueryAsync(new UsageQuery { KeyId = key });
        Assert.Equal(4, keyEverywhere.Records.Count);
    }

    [SkippableFact]
    public async Task Paging_returns_every_record_once_newest_first()
    {
        var store = await CreateStoreAsync();
        var account = NewId("acct");
        // Several records share a timestamp so that the cursor must break ties by request id.
        var records = Enumerable.Range(0, 7).Select(i => NewRecord(account, Start.AddSeconds(i / 3))).ToList();
        await store.AppendAsync(records);

        var seen = new List<string>();
        string? cursor = null;
        var pages = 0;
        do
        {
            var page = await store.QueryAsync(new UsageQuery { AccountId = account, Limit = 3, Cursor = cursor });
            seen.AddRange(page.Records.Select(r => r.RequestId));
            cursor = page.NextCursor;
            pages++;
        }
        while (cursor is not null && pages < 10);

        Assert.Equal(3, pages);
        var expected = records.OrderByDescending(r => r.Timestamp).ThenByDescending(r => r.RequestId, StringComparer.Ordinal).Select(r => r.RequestId);
        Assert.Equal(expected, seen);
    }

    private static UsageRecord NewRecord(string accountId, DateTimeOffset at) => new()
    {
        RequestId = NewId("req"),
        Timestamp = at,
        KeyId = NewId("key"),
        AccountId = accountId,
        Method = "GET",
        Route = "/v1/quote",
        StatusCode = 200,
        DurationMs = 1.25,
        Cost = Money.FromUnits(0.01m),
    };

    private static string NewId(string prefix) => $"{prefix}_{Guid.NewGuid():N}";
}
