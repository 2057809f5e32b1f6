using System.Globalization;
using System.Text.Json;

namespace UsageBilling;

/// <summary>One LiteLLM <c>StandardLoggingPayload</c>, reduced to what billing needs, or the reason it cannot be billed.</summary>
internal sealed record LiteLlmCall(
    string CallId,
    string IdempotencyKey,
    string Model,
    long PromptTokens,
    long CompletionTokens,
    long CachedTokens,
    decimal? ResponseCost,
    DateTimeOffset StartTime,
    double DurationMs,
    string? EndUser,
    string? KeyAlias,
    string? KeyHash);

/// <summary>Reads LiteLLM's <c>StandardLoggingPayload</c> objects; every problem is a reason, never an exception.</summary>
internal static class LiteLlmPayload
{
    public static LiteLlmCall? TryRead(JsonElement entry, DateTimeOffset now, out string? reason)
    {
        reason = null;
        if (entry.ValueKind != JsonValueKind.Object)
        {
            reason = "entry is not a JSON object";
            return null;
        }

        var callId = String(entry, "id") ?? String(entry, "litellm_call_id");
        if (callId is null)
        {
            reason = "missing 'id' and 'litellm_call_id'";
            return null;
        }

        if (!IsIdentifier(callId))
        {
            reason = $"'id' must be 1 to {MaxIdLength} characters without control characters or invalid UTF-16";
            return null;
        }

        var status = String(entry, "status");
        if (status is not null && !string.Equals(status, "success", StringComparison.OrdinalIgnoreCase))
        {
            reason = $"status is '{status}', not 'success'";
            return null;
        }

        var model = String(entry, "model_group") ?? String(entry, "model");
        model = model is null ? null : ClientStrings.Normalize(model);
        if (model is null)
        {
            reason = "missing 'model_group' and 'model'";
            return null;
        }

        if (!Count(entry, "prompt_tokens", out var prompt) || !Count(entry, "completion_tokens", out var completion))
        {
            reason = "'prompt_tokens' and 'completion_tokens' must be whole numbers from 0 to 1000000000";
            return null;
        }

        decimal? cost = null;
        if (entry.TryGetProperty("response_cost", out var costElement) && costElement.ValueKind != JsonValueKind.Null)
        {
            if (costElement.ValueKind != JsonValueKind.Number || !costElement.TryGetDecimal(out var value) || value < 0 || value > CreditBalance.MaxBalance.ToUnits())
            {
                reason = "'response_cost' must be a number from 0 to 1000000000";
                return null;
            }

            cost = value;
        }

        var start = Time(entry, "startTime") ?? now;
        var end = Time(entry, "endTime") ?? start;
        var metadata = entry.TryGetProperty("metadata", out var m) && m.ValueKind == JsonValueKind.Object ? m : default;
        var runId = metadata.ValueKind == JsonValueKind.Object && metadata.TryGetProperty("spend_logs_metadata", out var spend) && spend.ValueKind == JsonValueKind.Object
            ? String(spend, "run_id") : null;
        if (runId is not null && !IsIdentifier(runId))
        {
            reason = $"'metadata.spend_logs_metadata.run_id' must be 1 to {MaxIdLength} characters without control characters or invalid UTF-16";
            return null;
        }

        var endUser = String(entry, "end_user");
        if (string.IsNullOrEmpty(endUser) && metadata.ValueKind == JsonValueKind.Object
            && metadata.TryGetProperty("requester_custom_headers", out var headers) && headers.ValueKind == JsonValueKind.Object)
        {
            endUser = headers.EnumerateObject().Where(h => string.Equals(h.Name, "x-litellm-end-user-id", StringComparison.OrdinalIgnoreCase))
                .Select(h => h.Value.ValueKind == JsonValueKind.String ? ClientStrings.Read(h.Value) : null).FirstOrDefault(v => !string.IsNullOrEmpty(v));
        }

        long cached = 0;
        if (entry.TryGetProperty("prompt_tokens_details", out var details) && details.ValueKind == JsonValueKind.Object && Count(details, "cached_tokens", out var c))
        {
            cached = Math.Min(c, prompt);
        }

        return new LiteLlmCall(callId, runId ?? callId, model, prompt, completion, cached, cost, start, Math.Max(0, (end - start).TotalMilliseconds), endUser,
            metadata.ValueKind == JsonValueKind.Object && String(metadata, "user_api_key_alias") is { } alias ? ClientStrings.Normalize(alias) : null,
            metadata.ValueKind == JsonValueKind.Object && String(metadata, "user_api_key_hash") is { } hash ? ClientStrings.Normalize(hash) : null);
    }

    /// <summary>The longest call or run id accepted: it becomes the idempotency key of the charge and the usage record's id.</summary>
    internal const int MaxIdLength = 255;

    /// <summary>
    /// Whether <paramref name="id"/> can key a charge and a usage record as it is: an id is never rewritten (two ids
    /// must not become one), so one with control characters (NUL, which PostgreSQL refuses in text, included) or
    /// invalid UTF-16 (read as U+FFFD, so U+FFFD too) is skipped.
    /// </summary>
    private static bool IsIdentifier(string id)
        => id.Length <= MaxIdLength && !id.Contains(ClientStrings.Replacement, StringComparison.Ordinal) && ReferenceEquals(ClientStrings.Normalize(id, MaxIdLength), id);

    private static string? String(JsonElement element, string name)
        => element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String && ClientStrings.Read(value) is { } text && !string.IsNullOrWhiteSpace(text) ? text : null;

    private const long MaxTokens = 1_000_000_000;

    private static bool Count(JsonElement element, string name, out long count)
    {
        count = 0;
        if (!element.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return true;
        }

        // Bounded so that no token count can overflow the cost arithmetic.
        return value.ValueKind == JsonValueKind.Number && value.TryGetInt64(out count) && count is >= 0 and <= MaxTokens;
    }

    /// <summary>LiteLLM sends times as Unix seconds (fractional) or ISO 8601 strings.</summary>
    private static DateTimeOffset? Time(JsonElement element, string name)
    {
        if (!element.TryGetProperty(name, out var value))
        {
            return null;
        }

        if (value.ValueKind == JsonValueKind.Number && value.TryGetDouble(out var seconds) && seconds is > 0 and < 32_503_680_000)
        {
            return DateTimeOffset.FromUnixTimeMilliseconds((long)(seconds * 1000));
        }

        return value.ValueKind == JsonValueKind.String
            && DateTimeOffset.TryParse(ClientStrings.Read(value), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var parsed)
            ? parsed : null;
    }
}
