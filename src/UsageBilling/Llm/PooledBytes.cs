using System.Buffers;

namespace UsageBilling;

/// <summary>
/// Bytes appended into an array rented from <see cref="ArrayPool{T}.Shared"/>, grown by renting a larger one, and given
/// back by <see cref="Release"/>: the response observer's copies of what it reads, which live no longer than a call.
/// Not thread-safe. Nothing rented is lost if <see cref="Release"/> is never called; the pool only misses it.
/// </summary>
internal sealed class PooledBytes
{
    private const int FirstSize = 1024;

    private byte[] _buffer = [];
    private int _count;

    public int WrittenCount => _count;

    public ReadOnlySpan<byte> WrittenSpan => _buffer.AsSpan(0, _count);

    public void Write(ReadOnlySpan<byte> bytes)
    {
        if (_count + bytes.Length > _buffer.Length)
        {
            Grow(_count + bytes.Length);
        }

        bytes.CopyTo(_buffer.AsSpan(_count));
        _count += bytes.Length;
    }

    /// <summary>Forgets what was written; keeps the array for what is written next.</summary>
    public void Clear() => _count = 0;

    /// <summary>Gives the array back to the pool; what is written afterwards rents another.</summary>
    public void Release()
    {
        var buffer = _buffer;
        _buffer = [];
        _count = 0;
        if (buffer.Length > 0)
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private void Grow(int needed)
    {
        var larger = ArrayPool<byte>.Shared.Rent(Math.Max(needed, Math.Max(FirstSize, _buffer.Length * 2)));
        _buffer.AsSpan(0, _count).CopyTo(larger);
        if (_buffer.Length > 0)
        {
            ArrayPool<byte>.Shared.Return(_buffer);
        }

        _buffer = larger;
    }
}
