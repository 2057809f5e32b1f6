using Microsoft.AspNetCore.Http;

namespace UsageBilling;

/// <summary>Lets endpoint code that calls an LLM itself report the usage to bill, instead of having the response parsed.</summary>
public interface ILlmUsageFeature
{
    /// <summary>The model reported, if any.</summary>
    string? Model { get; }

    /// <summary>The usage reported, if any.</summary>
    LlmUsage? Usage { get; }

    /// <summary>Reports the call's usage; the last report wins and overrides anything read from the response.</summary>
    void Report(string model, LlmUsage usage);
}

internal sealed class LlmUsageFeature : ILlmUsageFeature
{
    public string? Model { get; private set; }

    public LlmUsage? Usage { get; private set; }

    public void Report(string model, LlmUsage usage)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(model);
        if (usage.InputTokens < 0 || usage.CachedInputTokens < 0 || usage.OutputTokens < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(usage), usage, "Token counts cannot be negative.");
        }

        Model = model;
        Usage = usage;
    }
}

/// <summary>Reporting LLM usage from endpoint code.</summary>
public static class LlmUsageHttpContextExtensions
{
    /// <summary>
    /// Reports the usage of the LLM call this request made, overriding response parsing. Only valid on endpoints
    /// metered with <c>.MeterLlmUsage()</c>.
    /// </summary>
    /// <exception cref="InvalidOperationException">The endpoint is not LLM-metered.</exception>
    public static void ReportLlmUsage(this HttpContext context, string model, long inputTokens, long outputTokens, long cachedInputTokens = 0)
    {
        ArgumentNullException.ThrowIfNull(context);
        var feature = context.Features.Get<ILlmUsageFeature>()
            ?? throw new InvalidOperationException("ReportLlmUsage works only on endpoints metered with .MeterLlmUsage() behind app.UseUsageBilling().");
        feature.Report(model, new LlmUsage(inputTokens, cachedInputTokens, outputTokens));
    }
}
