using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace UsageBilling;

/// <summary>
/// Wraps the response body: every write goes to the client first, unchanged and unbuffered, and only bytes that
/// reached the client are then read for usage — event by event for <c>text/event-stream</c>, as one document for
/// JSON (a copy capped at <see cref="LlmOptions.MaxJsonResponseBytes"/>).
/// </summary>
internal sealed class LlmResponseObserver : Stream
{
    private readonly Stream _inner;
    private readonly HttpResponse _response;
    private readonly LlmUsageAccumulator _usage;
    private readonly int _maxJsonBytes;
    private readonly PooledBytes _pending = new();
    private readonly PooledBytes _eventData = new();
    private Mode _mode;
    private bool _jsonOverflow;
    private bool _completed;

    public LlmResponseObserver(Stream inner, HttpResponse response, LlmUsageAccumulator usage, int maxJsonBytes)
    {
        _inner = inner;
        _response = response;
        _usage = usage;
        _maxJsonBytes = maxJsonBytes;
    }

    private enum Mode
    {
        Unknown,
        ServerSentEvents,
        Json,
        Other,
    }

    /// <summary>Whether any body bytes reached the client.</summary>
    public bool Started { get; private set; }

    /// <summary>Whether the response was a server-sent-event stream.</summary>
    public bool Streamed => _mode == Mode.ServerSentEvents;

    public override bool CanRead => false;

    public override bool CanSeek => false;

    public override bool CanWrite => true;

    public override long Length => throw new NotSupportedException();

    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        _inner.Write(buffer);
        Observe(buffer);
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
        => WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        await _inner.WriteAsync(buffer, cancellationToken).ConfigureAwait(false);
        Observe(buffer.Span);
    }

    public override void Flush() => _inner.Flush();

    public override Task FlushAsync(CancellationToken cancellationToken) => _inner.FlushAsync(cancellationToken);

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    /// <summary>Reads what is left — a final event without a trailing blank line, or the JSON document — and gives the buffers back.</summary>
    public void Complete()
    {
        switch (_mode)
        {
            case Mode.ServerSentEvents:
                if (_pending.WrittenCount > 0)
                {
                    ProcessLine(_pending.WrittenSpan);
                    _pending.Clear();
                }

                DispatchEvent();
                break;
            case Mode.Json when !_jsonOverflow && _pending.WrittenCount > 0:
                TryObserveJson(_pending.WrittenSpan);
                _pending.Clear();
                break;
        }

        // A write after this (the app must not write once its endpoint is done) is sent but not read, so that it can
        // never touch an array given back to the pool.
        _completed = true;
        _pending.Release();
        _eventData.Release();
    }

    private void Observe(ReadOnlySpan<byte> bytes)
    {
        if (bytes.IsEmpty || _completed)
        {
            return;
        }

        Started = true;
        if (_mode == Mode.Unknown)
        {
            var contentType = _response.ContentType ?? "";
            _mode = CallResponses.IsEventStream(contentType) ? Mode.ServerSentEvents
                : contentType.Contains("json", StringComparison.OrdinalIgnoreCase) ? Mode.Json
                : Mode.Other;
        }

        switch (_mode)
        {
            case Mode.ServerSentEvents:
                ObserveEvents(bytes);
                break;
            case Mode.Json when !_jsonOverflow:
                if (_pending.WrittenCount + bytes.Length > _maxJsonBytes)
                {
                    _jsonOverflow = true;
                    _pending.Release();
                }
                else
                {
                    _pending.Write(bytes);
                }

                break;
        }
    }

    private void ObserveEvents(ReadOnlySpan<byte> bytes)
    {
        while (!bytes.IsEmpty)
        {
            var newline = bytes.IndexOf((byte)'\n');
            if (newline < 0)
            {
                _pending.Write(bytes);
                return;
            }

            if (_pending.WrittenCount > 0)
            {
                _pending.Write(bytes[..newline]);
                ProcessLine(_pending.WrittenSpan);
                _pending.Clear();
            }
            else
            {
                ProcessLine(bytes[..newline]);
            }

            bytes = bytes[(newline + 1)..];
        }
    }

    private void ProcessLine(ReadOnlySpan<byte> line)
    {
        if (!line.IsEmpty && line[^1] == (byte)'\r')
        {
            line = line[..^1];
        }

        if (line.IsEmpty)
        {
            DispatchEvent();
            return;
        }

        if (line.StartsWith("data:"u8))
        {
            var data = line[5..];
            if (!data.IsEmpty && data[0] == (byte)' ')
            {
                data = data[1..];
            }

            if (_eventData.WrittenCount > 0)
            {
                _eventData.Write("\n"u8);
            }

            _eventData.Write(data);
        }
    }

    private void DispatchEvent()
    {
        if (_eventData.WrittenCount == 0)
        {
            return;
        }

        var data = _eventData.WrittenSpan;
        if (!data.SequenceEqual("[DONE]"u8))
        {
            TryObserveJson(data);
        }

        _eventData.Clear();
    }

    private void TryObserveJson(ReadOnlySpan<byte> json)
    {
        try
        {
            var reader = new Utf8JsonReader(json);
            using var document = JsonDocument.ParseValue(ref reader);
            _usage.Observe(document.RootElement);
        }
        catch (JsonException)
        {
            // Not JSON (a comment, a keep-alive, a truncated body): nothing to learn from it.
        }
    }
}
