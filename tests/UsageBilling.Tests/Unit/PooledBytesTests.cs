namespace UsageBilling.Tests.Unit;

public sealed class PooledBytesTests
{
    [Fact]
    public void Bytes_written_in_pieces_past_several_growths_read_back_in_order()
    {
        var bytes = new PooledBytes();
        var expected = Enumerable.Range(0, 10_000).Select(i => (byte)(i * 7)).ToArray();
        for (var offset = 0; offset < expected.Length; offset += 333)
        {
            bytes.Write(expected.AsSpan(offset, Math.Min(333, expected.Length - offset)));
        }

        Assert.Equal(expected.Length, bytes.WrittenCount);
        Assert.True(bytes.WrittenSpan.SequenceEqual(expected));
    }

    [Fact]
    public void Cleared_or_released_it_holds_only_what_is_written_next()
    {
        var bytes = new PooledBytes();
        bytes.Write("first document"u8);
        bytes.Clear();
        bytes.Write("next"u8);
        Assert.True(bytes.WrittenSpan.SequenceEqual("next"u8));

        bytes.Release();
        Assert.Equal(0, bytes.WrittenCount);
        bytes.Write("after release"u8);
        Assert.True(bytes.WrittenSpan.SequenceEqual("after release"u8));
    }
}
