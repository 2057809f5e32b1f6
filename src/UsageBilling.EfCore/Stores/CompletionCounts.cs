namespace UsageBilling.EntityFrameworkCore;

/// <summary>
/// The counts of some completions: every increment in completion order with the reservation of its completion, and
/// the distinct keys in key order.
/// </summary>
internal readonly record struct CompletionCounts(CounterIncrement[] Increments, string[] Reservations, string[] Keys)
{
    public static CompletionCounts Of(IReadOnlyList<CallCompletion> completions)
    {
        var increments = new List<CounterIncrement>();
        var reservations = new List<string>();
        foreach (var completion in completions)
        {
            if (completion.Counts is { } counts)
            {
                increments.AddRange(counts);
                reservations.AddRange(Enumerable.Repeat(completion.ReservationId, counts.Count));
            }
        }

        if (increments.Count == 0)
        {
            return new CompletionCounts([], [], []);
        }

        var keys = increments.Select(static i => i.Key).Distinct(StringComparer.Ordinal).ToArray();
        Array.Sort(keys, StringComparer.Ordinal);
        return new CompletionCounts([.. increments], [.. reservations], keys);
    }
}
