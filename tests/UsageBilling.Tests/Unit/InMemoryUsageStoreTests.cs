namespace UsageBilling.Tests.Unit;

public sealed class InMemoryUsageStoreTests
{
    [Fact]
    public async Task The_in_memory_usage_store_keeps_only_the_newest_records_up_to_its_capacity()
    {
        var store = new InMemoryUsageStore(capacity: 3);
        var start = new DateTimeOffset(2026, 11, 1, 0, 0, 0, TimeSpan.Zero);
        for (var i = 0; i < 5; i++)
        {
            await store.AppendAsync([new UsageRecord
            {
                RequestId = $"req_{i}", Timestamp = start.AddSeconds(i), AccountId = "acct", Method = "GET", Route = "/x", StatusCode = 200, DurationMs = 1,
                Cost = Money.FromUnits(1m),
            }]);
        }

        var page = await store.QueryAsync(new UsageQuery { AccountId = "acct", Limit = 10 });
        Assert.Equal(["req_4", "req_3", "req_2"], page.Records.Select(r => r.RequestId));
        var summary = Assert.Single(await store.SummarizeAsync(new UsageSummaryQuery { From = start, To = start.AddDays(1) }));
        Assert.Equal(3, summary.Requests);

        // A dropped id is forgotten with its record: appending it again stores it again.
        await store.AppendAsync([page.Records[0] with { RequestId = "req_0" }]);
        Assert.Contains("req_0", (await store.QueryAsync(new UsageQuery { AccountId = "acct", Limit = 10 })).Records.Select(r => r.RequestId));
    }
}
