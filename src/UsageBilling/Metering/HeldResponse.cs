using System.Buffers;
using System.IO.Pipelines;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace UsageBilling;

/// <summary>
/// Keeps a metered call's response from leaving before its charge is written. The server sends a response when it is
/// flushed or when the request ends; an endpoint that flushes as it writes (<c>Results.Text</c>, a proxied upstream
/// body) would otherwise put a 2xx in the client's hands while its charge is still queued, and a crash in between
/// would serve the call free. This feature stands in for the server's response body: what the endpoint writes goes
/// into the server's own buffer unchanged, no copy, but flushes, <c>StartAsync</c> and <c>CompleteAsync</c> wait
/// until <see cref="Release"/> — after the charge — and the server then sends it all when the request ends. A stream
/// (<c>text/event-stream</c>, <c>application/x-ndjson</c>) is never held, nor a body past <see cref="MaxHeldBytes"/>:
/// from the first flush after either is known, flushes go through, and what is sent before the charge is written can
/// be served free by a crash (docs/production.md).
/// </summary>
internal sealed class HeldResponse : IHttpResponseBodyFeature
{
    /// <summary>How much a held response may buffer; past it, the response is sent as written.</summary>
    internal const long MaxHeldBytes = 1 << 20;

    private readonly HttpContext _context;
    private readonly IHttpResponseBodyFeature _inner;
    private readonly HeldWriter _writer;
    private Stream? _stream;
    private bool _holding = true;
    private long _written;

    private HeldResponse(HttpContext context, IHttpResponseBodyFeature inner)
    {
        _context = context;
        _inner = inner;
        _writer = new HeldWriter(this, inner.Writer);
    }

    /// <summary>Holds the response of <paramref name="context"/> until <see cref="Release"/>.</summary>
    public static HeldResponse Hold(HttpContext context)
    {
        var held = new HeldResponse(context, context.Features.GetRequiredFeature<IHttpResponseBodyFeature>());
        context.Features.Set<IHttpResponseBodyFeature>(held);
        return held;
    }

    public Stream Stream => _stream ??= _writer.AsStream(leaveOpen: true);

    public PipeWriter Writer => _writer;

    /// <summary>Lets the response go: the server's own body is used again, and sends what was written when the request ends.</summary>
    public void Release()
    {
        _holding = false;
        if (ReferenceEquals(_context.Features.Get<IHttpResponseBodyFeature>(), this))
        {
            _context.Features.Set(_inner);
        }
    }

    public void DisableBuffering() => _inner.DisableBuffering();

    public Task StartAsync(CancellationToken cancellationToken = default) => Holds() ? Task.CompletedTask : _inner.StartAsync(cancellationToken);

    public Task SendFileAsync(string path, long offset, long? count, CancellationToken cancellationToken = default)
    {
        // A file is sent by the server as it reads it: not held.
        _holding = false;
        return _inner.SendFileAsync(path, offset, count, cancellationToken);
    }

    public Task CompleteAsync() => Holds() ? Task.CompletedTask : _inner.CompleteAsync();

    /// <summary>Whether the response is still held: not released, not a stream, not past <see cref="MaxHeldBytes"/>.</summary>
    private bool Holds()
    {
        if (_holding && (_written > MaxHeldBytes || IsStream(_context.Response.ContentType)))
        {
            _holding = false;
        }

        return _holding;
    }

    private static bool IsStream(string? contentType) => CallResponses.IsEventStream(contentType)
        || contentType?.StartsWith("application/x-ndjson", StringComparison.OrdinalIgnoreCase) == true;

    /// <summary>The server's writer, whose flushes wait while the response is held.</summary>
    private sealed class HeldWriter(HeldResponse owner, PipeWriter inner) : PipeWriter
    {
        public override bool CanGetUnflushedBytes => inner.CanGetUnflushedBytes;

        public override long UnflushedBytes => inner.UnflushedBytes;

        public override void Advance(int bytes)
        {
            owner._written += bytes;
            inner.Advance(bytes);
        }

        public override Memory<byte> GetMemory(int sizeHint = 0) => inner.GetMemory(sizeHint);

        public override Span<byte> GetSpan(int sizeHint = 0) => inner.GetSpan(sizeHint);

        public override void CancelPendingFlush() => inner.CancelPendingFlush();

        // Completing the server's writer ends the response: while held, the request's end does it.
        public override void Complete(Exception? exception = null)
        {
            if (!owner.Holds())
            {
                inner.Complete(exception);
            }
        }

        public override ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default)
            => owner.Holds() ? new ValueTask<FlushResult>(new FlushResult(isCanceled: false, isCompleted: false)) : inner.FlushAsync(cancellationToken);

        public override ValueTask<FlushResult> WriteAsync(ReadOnlyMemory<byte> source, CancellationToken cancellationToken = default)
        {
            this.Write(source.Span);
            return FlushAsync(cancellationToken);
        }
    }
}
