using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace UsageBilling.EntityFrameworkCore.Tests;

public sealed class CounterCleanupTests(SqliteTestDatabase database) : IClassFixture<SqliteTestDatabase>
{
    [Fact]
    public async Task Increments_delete_expired_counters_in_the_background_once_per_interval()
    {
        var clock = new FakeTimeProvider(new DateTimeOffset(2026, 11, 23, 10, 0, 0, TimeSpan.Zero));
        var services = new ServiceCollection().AddLogging().AddSingleton<TimeProvider>(clock);
        services.AddUsageBilling().UseEntityFrameworkCore(database.Configure, o => o.ExpiredCounterCleanupInterval = TimeSpan.FromMinutes(5));
        await using var provider = services.BuildServiceProvider();
        var counters = provider.GetRequiredService<ICounterStore>();

        var expired = $"key_{Guid.NewGuid():N}:m:1";
        var live = $"key_{Guid.NewGuid():N}:h:1";
        await counters.IncrementAsync([new(expired, 1, clock.GetUtcNow().AddMinutes(1)), new(live, 1, clock.GetUtcNow().AddHours(1))]);

        // Within the first interval nothing is deleted, even once the counter has expired.
        clock.Advance(TimeSpan.FromMinutes(2));
        await counters.IncrementAsync([new(live, 1, clock.GetUtcNow().AddHours(1))]);
        await Task.Delay(200);
        Assert.Equal(new long[] { 1, 2 }, await counters.GetAsync([expired, live]));

        // After the interval, an increment starts a cleanup that deletes the expired counter and keeps the live one.
        clock.Advance(TimeSpan.FromMinutes(4));
        await counters.IncrementAsync([new(live, 1, clock.GetUtcNow().AddHours(1))]);
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while ((await counters.GetAsync([expired]))[0] != 0 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50);
        }

        Assert.Equal(new long[] { 0, 3 }, await counters.GetAsync([expired, live]));
    }
}
