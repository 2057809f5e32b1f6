using System.Buffers;
using System.Text;
using System.Text.Json;

namespace UsageBilling;

/// <summary>The names of the price dimensions in an <see cref="LlmCostBreakdown"/>.</summary>
public static class LlmCostDimensions
{
    /// <summary>Input tokens neither cached nor written to a cache (audio excluded).</summary>
    public const string Input = "input";

    /// <summary>Audio input tokens.</summary>
    public const string AudioInput = "audio_input";

    /// <summary>Input tokens read from a cache.</summary>
    public const string CachedInput = "cached_input";

    /// <summary>Input tokens written to a 5-minute cache.</summary>
    public const string CacheWrite5m = "cache_write_5m";

    /// <summary>Input tokens written to a 1-hour cache.</summary>
    public const string CacheWrite1h = "cache_write_1h";

    /// <summary>Output tokens (reasoning and audio excluded).</summary>
    public const string Output = "output";

    /// <summary>Reasoning output tokens.</summary>
    public const string Reasoning = "reasoning";

    /// <summary>Audio output tokens.</summary>
    public const string AudioOutput = "audio_output";

    /// <summary>Web-search requests.</summary>
    public const string WebSearch = "web_search";

    /// <summary>Generated images.</summary>
    public const string Image = "image";

    /// <summary>The per-request fee.</summary>
    public const string RequestFee = "request";
}

/// <summary>One priced dimension of an LLM call.</summary>
/// <param name="Dimension">What was priced (see <see cref="LlmCostDimensions"/>).</param>
/// <param name="Quantity">Tokens, requests or images.</param>
/// <param name="Cost">Their cost at list price, in currency units, before markup and multipliers (exact, not rounded).</param>
public sealed record LlmCostLine(string Dimension, long Quantity, decimal Cost);

/// <summary>What an LLM call cost, dimension by dimension.</summary>
/// <param name="Lines">The dimensions the call used, in a fixed order.</param>
/// <param name="Total">The call's cost: the lines' sum times <paramref name="Factor"/>, rounded up to the nano-unit.</param>
/// <param name="Factor">Plan markup, request multiplier and service-tier multiplier, multiplied.</param>
/// <param name="ServiceTier">The service tier whose prices were used, if any.</param>
/// <param name="LongContext">Whether the long-context tier's rates were used.</param>
public sealed record LlmCostBreakdown(IReadOnlyList<LlmCostLine> Lines, Money Total, decimal Factor, string? ServiceTier, bool LongContext)
{
    /// <summary>
    /// Compact JSON, as stored in <see cref="UsageRecord.CostBreakdown"/>:
    /// <c>{"total":0.0123,"factor":1.4,"tier":"batch","longContext":true,"lines":[{"dimension":"input","quantity":1200,"cost":0.003}]}</c>
    /// (<c>tier</c> and <c>longContext</c> only when they apply).
    /// </summary>
    public string ToJson()
    {
        // One buffer and writer per thread, reset after each use: a metered LLM call writes its breakdown once, and
        // nothing in between can run another breakdown on this thread.
        var buffer = t_buffer ??= new ArrayBufferWriter<byte>(256);
        var json = t_writer ??= new Utf8JsonWriter(buffer);
        try
        {
            json.WriteStartObject();
            json.WriteNumber("total", Total.ToUnits());
            json.WriteNumber("factor", Factor);
            if (ServiceTier is not null)
            {
                json.WriteString("tier", ServiceTier);
            }

            if (LongContext)
            {
                json.WriteBoolean("longContext", true);
            }

            json.WriteStartArray("lines");
            foreach (var line in Lines)
            {
                json.WriteStartObject();
                json.WriteString("dimension", line.Dimension);
                json.WriteNumber("quantity", line.Quantity);
                json.WriteNumber("cost", line.Cost);
                json.WriteEndObject();
            }

            json.WriteEndArray();
            json.WriteEndObject();
            json.Flush();
            return Encoding.UTF8.GetString(buffer.WrittenSpan);
        }
        finally
        {
            if (buffer.Capacity > MaxKeptBuffer)
            {
                // A breakdown far larger than usual (a long tier name): not kept for the thread's next one.
                t_buffer = null;
                t_writer = null;
            }
            else
            {
                json.Reset();
                buffer.ResetWrittenCount();
            }
        }
    }

    private const int MaxKeptBuffer = 4096;

    [ThreadStatic]
    private static ArrayBufferWriter<byte>? t_buffer;

    [ThreadStatic]
    private static Utf8JsonWriter? t_writer;
}
