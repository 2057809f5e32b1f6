namespace UsageBilling.Tests.Unit;

/// <summary>How long a failed completion waits before its next try.</summary>
public sealed class PendingCompletionsTests
{
    [Fact]
    public void The_retry_delay_doubles_from_100_ms_with_at_most_25_percent_jitter_and_never_exceeds_30_seconds()
    {
        for (var attempt = 1; attempt <= 40; attempt++)
        {
            var nominal = Math.Min(30_000, 100 * Math.Pow(2, attempt));
            for (var sample = 0; sample < 200; sample++)
            {
                var delay = PendingCompletions.Backoff(attempt).TotalMilliseconds;
                Assert.InRange(delay, nominal * 0.75, nominal);
            }
        }
    }

    [Fact]
    public void Later_retries_wait_longer_until_the_cap()
    {
        // With 25 % jitter at most, a doubled delay is always longer than the one before it.
        for (var attempt = 2; attempt <= 8; attempt++)
        {
            var shortest = Enumerable.Range(0, 200).Min(_ => PendingCompletions.Backoff(attempt));
            var longestBefore = Enumerable.Range(0, 200).Max(_ => PendingCompletions.Backoff(attempt - 1));
            Assert.True(shortest > longestBefore, $"attempt {attempt}: {shortest} is not longer than {longestBefore}");
        }

        Assert.True(PendingCompletions.Backoff(1000) <= TimeSpan.FromSeconds(30));
        Assert.True(PendingCompletions.Backoff(1000) >= TimeSpan.FromSeconds(22.5));
    }
}
