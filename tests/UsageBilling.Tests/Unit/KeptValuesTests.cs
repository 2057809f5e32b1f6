namespace UsageBilling.Tests.Unit;

public sealed class KeptValuesTests
{
    private sealed record Made(string Key, int Number);

    private static readonly Func<Made, string, bool> IsFor = static (made, key) => made.Key == key;

    [Fact]
    public void A_value_is_made_once_and_then_kept_for_its_key()
    {
        var kept = new KeptValues<Made>(8);
        var made = 0;

        var first = kept.Get("a".GetHashCode(), "a", IsFor, key => new Made(key, ++made));
        var again = kept.Get("a".GetHashCode(), "a", IsFor, key => new Made(key, ++made));

        Assert.Same(first, again);
        Assert.Equal(1, made);
    }

    [Fact]
    public void Keys_that_share_a_slot_each_get_their_own_value_never_the_others()
    {
        // One slot: every key collides, so each ask for another key than the last is made again.
        var kept = new KeptValues<Made>(1);
        var made = 0;

        var a = kept.Get(1, "a", IsFor, key => new Made(key, ++made));
        var b = kept.Get(1, "b", IsFor, key => new Made(key, ++made));
        var aAgain = kept.Get(1, "a", IsFor, key => new Made(key, ++made));

        Assert.Equal(("a", "b", "a"), (a.Key, b.Key, aAgain.Key));
        Assert.Equal(3, made);
        Assert.NotSame(a, aAgain);
    }

    [Fact]
    public void Concurrent_askers_only_ever_get_a_value_made_for_their_key()
    {
        var kept = new KeptValues<Made>(4);

        Parallel.For(0, 20_000, i =>
        {
            var key = "k" + (i % 13);
            Assert.Equal(key, kept.Get(key.GetHashCode(), key, IsFor, k => new Made(k, i)).Key);
        });
    }
}
