namespace UsageBilling;

/// <summary>
/// The counter key of a key's limit window, <c>{keyId}:{code}:{number}</c> (for example <c>key_…:m:29450000</c>).
/// Every call of a key in one window names the same counter, so the text is made once per window and kept in a small
/// fixed table (the most recent per slot), instead of being formatted again for each of a call's five or six
/// windows: a metered call then allocates none of them. A slot taken by another key or window is simply formatted
/// again, so the table never grows and never answers wrong (an entry is compared in full before it is used).
/// </summary>
internal static class WindowCounterKeys
{
    private static readonly KeptValues<Entry> Kept = new(1024);

    /// <summary>The counter key of window <paramref name="number"/> of kind <paramref name="code"/> (<c>s</c>, <c>m</c>, <c>h</c>, <c>d</c>, <c>mo</c>, <c>tm</c>) of <paramref name="keyId"/>.</summary>
    public static string Get(string keyId, string code, long number)
        => Kept.Get(
            HashCode.Combine(keyId, code),
            (KeyId: keyId, Code: code, Number: number),
            static (entry, window) => entry.Number == window.Number && string.Equals(entry.Code, window.Code, StringComparison.Ordinal)
                && string.Equals(entry.KeyId, window.KeyId, StringComparison.Ordinal),
            static window => new Entry(window.KeyId, window.Code, window.Number,
                string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{window.KeyId}:{window.Code}:{window.Number}"))).Text;

    private sealed record Entry(string KeyId, string Code, long Number, string Text);
}
