using System.Buffers;
using System.Security.Cryptography;
using System.Text;

namespace UsageBilling;

/// <summary>
/// The key format: <c>{prefix}{32 random base62 characters}{6 base62 checksum characters}</c>.
/// The random part carries 190 bits from <see cref="RandomNumberGenerator"/>; the checksum (the first 32 bits of the
/// SHA-256 of prefix and random part) lets a malformed or mistyped key be refused without a store lookup.
/// Keys are stored as the hex SHA-256 of the whole key, or HMAC-SHA256 keyed with the configured pepper.
/// </summary>
internal sealed class ApiKeyFormat
{
    internal const int RandomLength = 32;
    internal const int ChecksumLength = 6;
    internal const int DisplayRandomCharacters = 4;
    private const string Alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

    private readonly byte[]? _pepper;

    public ApiKeyFormat(string prefix, string? pepper)
    {
        Prefix = prefix;
        _pepper = string.IsNullOrEmpty(pepper) ? null : Encoding.UTF8.GetBytes(pepper);
    }

    public string Prefix { get; }

    public int KeyLength => Prefix.Length + RandomLength + ChecksumLength;

    public string Generate()
    {
        var random = RandomNumberGenerator.GetString(Alphabet, RandomLength);
        return string.Concat(Prefix, random, Checksum(random));
    }

    /// <summary>Checks prefix, length, alphabet and checksum; does no I/O.</summary>
    public bool IsWellFormed(ReadOnlySpan<char> key)
    {
        if (key.Length != KeyLength || !key.StartsWith(Prefix, StringComparison.Ordinal))
        {
            return false;
        }

        var body = key[Prefix.Length..];
        foreach (var c in body)
        {
            if (!char.IsAsciiLetterOrDigit(c))
            {
                return false;
            }
        }

        Span<char> expected = stackalloc char[ChecksumLength];
        WriteChecksum(body[..RandomLength], expected);
        return body[RandomLength..].SequenceEqual(expected);
    }

    public string DisplayPrefix(string key) => key[..(Prefix.Length + DisplayRandomCharacters)];

    public string Hash(string key)
    {
        // A well-formed key is short ASCII; anything longer is hashed from a rented array rather than the stack.
        var length = Encoding.UTF8.GetByteCount(key);
        byte[]? rented = length > 256 ? ArrayPool<byte>.Shared.Rent(length) : null;
        Span<byte> bytes = rented ?? stackalloc byte[256];
        bytes = bytes[..Encoding.UTF8.GetBytes(key, bytes)];
        Span<byte> hash = stackalloc byte[32];
        if (_pepper is null)
        {
            SHA256.HashData(bytes, hash);
        }
        else
        {
            HMACSHA256.HashData(_pepper, bytes, hash);
        }

        // The bytes are the presented key: none is left behind in memory that is reused.
        CryptographicOperations.ZeroMemory(bytes);
        if (rented is not null)
        {
            ArrayPool<byte>.Shared.Return(rented);
        }

        return Convert.ToHexStringLower(hash);
    }

    private string Checksum(ReadOnlySpan<char> random)
    {
        Span<char> checksum = stackalloc char[ChecksumLength];
        WriteChecksum(random, checksum);
        return new string(checksum);
    }

    private void WriteChecksum(ReadOnlySpan<char> random, Span<char> destination)
    {
        Span<byte> input = stackalloc byte[Prefix.Length + random.Length];
        var written = Encoding.ASCII.GetBytes(Prefix, input);
        Encoding.ASCII.GetBytes(random, input[written..]);
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(input, hash);
        var value = BitConverter.ToUInt32(hash);
        for (var i = ChecksumLength - 1; i >= 0; i--)
        {
            destination[i] = Alphabet[(int)(value % 62)];
            value /= 62;
        }
    }
}
