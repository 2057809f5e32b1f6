using System.Buffers.Binary;

namespace UsageBilling;

/// <summary>Creates prefixed, time-ordered ids such as <c>acct_0192f1c3...</c>.</summary>
internal static class BillingIds
{
    /// <summary>
    /// <paramref name="prefix"/>, an underscore and a version 7 UUID (RFC 9562) in 32 lowercase hex digits: 48 bits of
    /// Unix milliseconds, then 74 random bits. A metered call makes three of these; the random bits come from
    /// <see cref="Random.Shared"/> (seeded by the OS for each thread) rather than from the cryptographic generator that
    /// <see cref="Guid.CreateVersion7(DateTimeOffset)"/> asks on every call, which took 2 % of a metered host's CPU.
    /// These ids name records; they are not secrets (API keys are made from the cryptographic generator).
    /// </summary>
    public static string New(string prefix, TimeProvider timeProvider)
        => string.Create(prefix.Length + 33, (prefix, timeProvider.GetUtcNow().ToUnixTimeMilliseconds()), static (text, state) =>
        {
            var (prefix, milliseconds) = state;
            Span<byte> uuid = stackalloc byte[16];
            Random.Shared.NextBytes(uuid[6..]);
            BinaryPrimitives.WriteUInt16BigEndian(uuid[4..], (ushort)milliseconds);
            BinaryPrimitives.WriteUInt32BigEndian(uuid, (uint)(milliseconds >> 16));
            uuid[6] = (byte)(0x70 | (uuid[6] & 0x0F));
            uuid[8] = (byte)(0x80 | (uuid[8] & 0x3F));

            prefix.CopyTo(text);
            text[prefix.Length] = '_';
            Convert.TryToHexStringLower(uuid, text[(prefix.Length + 1)..], out _);
        });
}
