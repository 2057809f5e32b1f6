using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Caching.Distributed;
using Microsoft.Extensions.Options;

namespace UsageBilling;

/// <summary>The caller's <c>Idempotency-Key</c> and the fingerprint of the request it was sent with.</summary>
/// <param name="Key">The key as sent.</param>
/// <param name="Fingerprint">Method, path and query, and the SHA-256 of the body: a key binds to exactly one request.</param>
internal readonly record struct IdempotencyRequest(string Key, string Fingerprint)
{
    internal const string Header = "Idempotency-Key";
    internal const string ReplayedHeader = "Idempotent-Replayed";
    internal const int MaxKeyLength = 255;

    /// <summary>Whether <paramref name="key"/> is 1 to 255 visible ASCII characters.</summary>
    public static bool IsValidKey(string key)
    {
        if (key.Length is 0 or > MaxKeyLength)
        {
            return false;
        }

        foreach (var c in key)
        {
            if (c is < '!' or > '~')
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Fingerprints the request, reading (and buffering, so the endpoint can read it again) its body.</summary>
    public static async ValueTask<IdempotencyRequest> ReadAsync(HttpRequest request, string key, CancellationToken cancellationToken)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData(Encoding.UTF8.GetBytes(string.Concat(request.Method, " ", request.Path.Value, request.QueryString.Value, "\n")));
        if (request.ContentLength != 0)
        {
            request.EnableBuffering();
            var buffer = new byte[16 * 1024];
            int read;
            while ((read = await request.Body.ReadAsync(buffer, cancellationToken).ConfigureAwait(false)) > 0)
            {
                hash.AppendData(buffer, 0, read);
            }

            request.Body.Position = 0;
        }

        return new IdempotencyRequest(key, string.Concat(request.Method, " ", request.Path.Value, " sha256:", Convert.ToHexStringLower(hash.GetHashAndReset())));
    }
}

/// <summary>
/// A completed call's response kept for replay under its <c>Idempotency-Key</c>: status, content type and body, or
/// only the outcome when the body could not be kept (streamed, or larger than <see cref="IdempotencyOptions.MaxResponseBytes"/>).
/// </summary>
internal sealed record StoredResponse(string Fingerprint, int StatusCode, string? ContentType, byte[]? Body, Money Charged, string RequestId)
{
    public byte[] Serialize()
    {
        var fingerprint = Encoding.UTF8.GetBytes(Fingerprint);
        var contentType = Encoding.UTF8.GetBytes(ContentType ?? "");
        var requestId = Encoding.UTF8.GetBytes(RequestId);
        var buffer = new byte[4 * 5 + 8 + fingerprint.Length + contentType.Length + requestId.Length + (Body?.Length ?? 0)];
        var span = buffer.AsSpan();
        BinaryPrimitives.WriteInt32LittleEndian(span, StatusCode);
        BinaryPrimitives.WriteInt64LittleEndian(span[4..], Charged.Nanos);
        var offset = 12;
        foreach (var part in (ReadOnlySpan<byte[]>)[fingerprint, contentType, requestId])
        {
            BinaryPrimitives.WriteInt32LittleEndian(span[offset..], part.Length);
            part.CopyTo(span[(offset + 4)..]);
            offset += 4 + part.Length;
        }

        BinaryPrimitives.WriteInt32LittleEndian(span[offset..], Body?.Length ?? -1);
        Body?.CopyTo(span[(offset + 4)..]);
        return buffer;
    }

    public static StoredResponse? Deserialize(byte[] data)
    {
        try
        {
            var span = data.AsSpan();
            var status = BinaryPrimitives.ReadInt32LittleEndian(span);
            var charged = new Money(BinaryPrimitives.ReadInt64LittleEndian(span[4..]));
            var offset = 12;
            var parts = new string[3];
            for (var i = 0; i < parts.Length; i++)
            {
                var length = BinaryPrimitives.ReadInt32LittleEndian(span[offset..]);
                parts[i] = Encoding.UTF8.GetString(span.Slice(offset + 4, length));
                offset += 4 + length;
            }

            var bodyLength = BinaryPrimitives.ReadInt32LittleEndian(span[offset..]);
            var body = bodyLength < 0 ? null : span.Slice(offset + 4, bodyLength).ToArray();
            return new StoredResponse(parts[0], status, parts[1].Length == 0 ? null : parts[1], body, charged, parts[2]);
        }
        catch (ArgumentOutOfRangeException)
        {
            // Not ours, or written by an incompatible version: treat as absent.
            return null;
        }
    }
}

/// <summary>Keeps completed calls' responses for replay in the app's <see cref="IDistributedCache"/> (in memory unless the app registers a shared one).</summary>
internal sealed class IdempotentResponseStore
{
    private readonly IDistributedCache _cache;
    private readonly IOptionsMonitor<UsageBillingOptions> _options;

    public IdempotentResponseStore(IDistributedCache cache, IOptionsMonitor<UsageBillingOptions> options)
    {
        _cache = cache;
        _options = options;
    }

    public async ValueTask<StoredResponse?> FindAsync(string accountId, string key, CancellationToken cancellationToken)
    {
        var data = await _cache.GetAsync(CacheKey(accountId, key), cancellationToken).ConfigureAwait(false);
        return data is null ? null : StoredResponse.Deserialize(data);
    }

    public Task StoreAsync(string accountId, string key, StoredResponse response, CancellationToken cancellationToken)
        => _cache.SetAsync(CacheKey(accountId, key), response.Serialize(),
            new DistributedCacheEntryOptions { AbsoluteExpirationRelativeToNow = _options.CurrentValue.Idempotency.ReplayFor }, cancellationToken);

    private static string CacheKey(string accountId, string key) => string.Concat("usagebilling:idem:", accountId, ":", key);
}

/// <summary>Passes a response through while keeping a copy of its first bytes, up to a cap, for replay.</summary>
internal sealed class ResponseCapture : Stream
{
    private readonly Stream _inner;
    private readonly int _limit;
    private MemoryStream? _copy = new();

    public ResponseCapture(Stream inner, int limit)
    {
        _inner = inner;
        _limit = limit;
    }

    /// <summary>The whole body, or <see langword="null"/> when it was larger than the cap.</summary>
    public byte[]? Body => _copy?.ToArray();

    /// <summary>The stream it passes the response to.</summary>
    public Stream Inner => _inner;

    public override bool CanRead => false;

    public override bool CanSeek => false;

    public override bool CanWrite => true;

    public override long Length => throw new NotSupportedException();

    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override void Write(byte[] buffer, int offset, int count)
    {
        Keep(buffer.AsSpan(offset, count));
        _inner.Write(buffer, offset, count);
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
        => WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        Keep(buffer.Span);
        return _inner.WriteAsync(buffer, cancellationToken);
    }

    public override void Flush() => _inner.Flush();

    public override Task FlushAsync(CancellationToken cancellationToken) => _inner.FlushAsync(cancellationToken);

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    private void Keep(ReadOnlySpan<byte> data)
    {
        if (_copy is null)
        {
            return;
        }

        if (_copy.Length + data.Length > _limit)
        {
            _copy = null;
            return;
        }

        _copy.Write(data);
    }
}
