namespace UsageBilling.Tests.Shared;

/// <summary>
/// Waits for what a background loop or another thread makes true (a batch landing, a hold given back), and fails the
/// test with <c>failure</c> when it has not come true within <c>timeout</c>.
/// </summary>
internal static class Polling
{
    private static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(10);

    public static Task WaitUntilAsync(Func<bool> condition, TimeSpan timeout, string failure)
        => WaitUntilAsync(() => Task.FromResult(condition()), timeout, failure);

    public static async Task WaitUntilAsync(Func<Task<bool>> condition, TimeSpan timeout, string failure)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, failure);
            await Task.Delay(Interval);
        }
    }
}
