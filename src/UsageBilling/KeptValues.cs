namespace UsageBilling;

/// <summary>
/// A small fixed table of values that many calls ask for alike — a window's counter key, a key's windows in one second,
/// a plan's <c>RateLimit-Policy</c> text — made once and kept rather than made again for every call. A key hashes to
/// one slot, which holds the value made last for any key of that slot; a kept value is used only when it says it was
/// made for the key asked for (compared in full), so the table never answers wrong and never grows, and a slot taken
/// by another key is simply made again. Kept values are shared between threads: their users never change them.
/// </summary>
/// <typeparam name="T">What is kept; it carries what it was made for.</typeparam>
internal sealed class KeptValues<T> where T : class
{
    private readonly T?[] _slots;

    /// <param name="slots">How many values are kept at most.</param>
    public KeptValues(int slots)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(slots, 1);
        _slots = new T?[slots];
    }

    /// <summary>
    /// The value kept for <paramref name="key"/> in the slot of <paramref name="hash"/> (its hash code) when
    /// <paramref name="isFor"/> says it was made for that key; otherwise the value <paramref name="make"/> makes now,
    /// kept there instead. Pass static lambdas: the key travels as an argument, so nothing is allocated when kept.
    /// </summary>
    public T Get<TKey>(int hash, TKey key, Func<T, TKey, bool> isFor, Func<TKey, T> make)
    {
        ref var slot = ref _slots[(uint)hash % (uint)_slots.Length];
        if (Volatile.Read(ref slot) is { } kept && isFor(kept, key))
        {
            return kept;
        }

        var made = make(key);
        Volatile.Write(ref slot, made);
        return made;
    }
}
