using Microsoft.Extensions.Time.Testing;

namespace UsageBilling.Tests.Unit;

public sealed class BillingIdsTests
{
    [Fact]
    public void An_id_is_its_prefix_and_a_version_7_uuid_of_the_current_millisecond()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 12, 6, 8, 0, 0, 123, TimeSpan.Zero));
        var id = BillingIds.New("res", time);

        Assert.Matches("^res_[0-9a-f]{32}$", id);
        var uuid = Guid.ParseExact(id[4..], "N");
        Assert.Equal(7, uuid.Version);
        Assert.Equal(0b10, uuid.Variant >> 2);
        Assert.Equal(time.GetUtcNow().ToUnixTimeMilliseconds(), Convert.ToInt64(id[4..16], 16));
    }

    [Fact]
    public void Ids_differ_within_one_millisecond_and_sort_by_time_across_milliseconds()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 12, 6, 8, 0, 0, TimeSpan.Zero));
        var sameMillisecond = Enumerable.Range(0, 10_000).Select(_ => BillingIds.New("led", time)).ToHashSet(StringComparer.Ordinal);
        Assert.Equal(10_000, sameMillisecond.Count);

        var earlier = BillingIds.New("led", time);
        time.Advance(TimeSpan.FromMilliseconds(1));
        Assert.True(string.CompareOrdinal(earlier, BillingIds.New("led", time)) < 0);

        // The random bits are random: the 74 of them are not all the same across ids.
        Assert.Contains(sameMillisecond, i => i[17] != sameMillisecond.First()[17]);
    }
}
