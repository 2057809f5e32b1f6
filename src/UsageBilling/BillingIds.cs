namespace UsageBilling;

/// <summary>Creates prefixed, time-ordered ids such as <c>acct_0192f1c3...</c>.</summary>
internal static class BillingIds
{
    public static string New(string prefix, TimeProvider timeProvider)
        => string.Concat(prefix, "_", Guid.CreateVersion7(timeProvider.GetUtcNow()).ToString("N"));
}
