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
            CostBreakdown = """{"lines":[{"dimension":"input","units":176,"nanos":440}]}""",
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
        // Sub-millisecond differences must not reorder or skip records either: the cursor keeps milliseconds.
        var records = Enumerable.Range(0, 7).Select(i => NewRecord(account, Start.AddSeconds(i / 3).AddTicks(7 - i))).ToList();
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
        var expected = records.OrderByDescending(r => r.Timestamp.ToUnixTimeMilliseconds()).ThenByDescending(r => r.RequestId, StringComparer.Ordinal).Select(r => r.RequestId);
        Assert.Equal(expected, seen);
    }

    [SkippableFact]
    public async Task Summaries_match_the_reference_aggregation_for_every_grouping_and_order()
    {
        var store = await CreateStoreAsync();
        // A period of its own, so that records of other tests sharing the store never fall into it.
        var start = new DateTimeOffset(2100, 1, 1, 0, 0, 0, TimeSpan.Zero).AddDays(Random.Shared.Next(0, 30_000));
        var accounts = new[] { NewId("acct"), NewId("acct"), NewId("acct") };
        var keys = new[] { NewId("key"), NewId("key") };
        var models = new string?[] { "gpt-4o", "claude-sonnet-4-5", null };
        var records = Enumerable.Range(0, 60).Select(i => NewRecord(accounts[i % 3], start.AddHours(i * 2)) with
        {
            KeyId = keys[i % 2],
            Model = models[i % 3 == 0 ? 0 : i % 5 == 0 ? 2 : 1],
            StatusCode = i % 7 == 0 ? 429 : 200,
            DurationMs = 1 + (i * 37 % 61) + 0.25,
            Cost = Money.FromUnits(0.000000001m * (i * 1_234_567 % 9_999_991)),
            InputTokens = i % 4 == 0 ? null : i * 100,
            CachedInputTokens = i % 3 == 0 ? i : 0,
            OutputTokens = i * 10,
        }).ToList();
        await store.AppendAsync(records);

        var period = new UsageSummaryQuery { From = start.AddHours(4), To = start.AddDays(4) };
        foreach (var grouping in Enum.GetValues<UsageGrouping>())
        {
            foreach (var order in Enum.GetValues<UsageOrder>())
            {
                var query = period with { GroupBy = grouping, OrderBy = order };
                AssertSame(UsageAggregation.Summarize(records, query), await store.SummarizeAsync(query), $"{grouping}/{order}");
            }
        }

        var top = period with { GroupBy = UsageGrouping.Account, OrderBy = UsageOrder.CostDescending, Limit = 2 };
        AssertSame(UsageAggregation.Summarize(records, top), await store.SummarizeAsync(top), "top 2 by cost");
        var oneKey = period with { KeyId = keys[1], AccountId = accounts[0], GroupBy = UsageGrouping.Day };
        AssertSame(UsageAggregation.Summarize(records, oneKey), await store.SummarizeAsync(oneKey), "one key and account");
        var empty = new UsageSummaryQuery { From = start.AddYears(-1), To = start.AddYears(-1).AddDays(1) };
        AssertSame([new UsageSummary()], await store.SummarizeAsync(empty), "empty period");
        Assert.Empty(await store.SummarizeAsync(empty with { GroupBy = UsageGrouping.Day }));
    }

    private static void AssertSame(IReadOnlyList<UsageSummary> expected, IReadOnlyList<UsageSummary> actual, string what)
    {
        Assert.True(expected.Count == actual.Count, $"{what}: expected {expected.Count} rows, got {actual.Count}");
        for (var i = 0; i < expected.Count; i++)
        {
            var (e, a) = (expected[i], actual[i]);
            Assert.True(e with { AverageDurationMs = 0 } == a with { AverageDurationMs = 0 }, $"{what} row {i}: expected {e}, got {a}");
            Assert.True(Math.Abs(e.AverageDurationMs - a.AverageDurationMs) < 1e-6, $"{what} row {i}: average {a.AverageDurationMs} is not {e.AverageDurationMs}");
        }
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
