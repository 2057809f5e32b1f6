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
    string? KeyHash)
{
    /// <summary>Input tokens written to a cache (part of <see cref="PromptTokens"/>, as LiteLLM counts them).</summary>
    public long CacheWriteTokens { get; init; }

    /// <summary>The end-user header the gateway saw.</summary>
    public string? EndUserHeader { get; init; }

    public string? KeyEndUserId { get; init; }

    public string? TeamId { get; init; }

    public string? UserId { get; init; }

    public IReadOnlyList<string> Tags { get; init; } = [];

    /// <summary>What account resolution reads.</summary>
    public IngestedCall ForResolution() => new(CallId, EndUser, KeyAlias, KeyHash)
    {
        EndUserHeader = EndUserHeader, KeyEndUserId = KeyEndUserId, TeamId = TeamId, UserId = UserId, Tags = Tags,
    };
}

/// <summary>Reads LiteLLM's <c>StandardLoggingPayload</c> objects; every problem is a reason, never an exception.</summary>
internal static class LiteLlmPayload
{
    /// <param name="entry">The payload.</param>
    /// <param name="now">Now, for a payload without a start time.</param>
    /// <param name="callId">The entry's id when it has a usable one, also when the entry is skipped.</param>
    /// <param name="reason">Why the entry cannot be billed.</param>
    public static LiteLlmCall? TryRead(JsonElement entry, DateTimeOffset now, out string? callId, out string? reason)
    {
        reason = null;
        callId = null;
        if (entry.ValueKind != JsonValueKind.Object)
        {
            reason = "entry is not a JSON object";
            return null;
        }

        var id = String(entry, "id") ?? String(entry, "litellm_call_id");
        if (id is null)
        {
            reason = "missing 'id' and 'litellm_call_id'";
            return null;
        }

        if (!IsIdentifier(id))
        {
            reason = $"'id' must be 1 to {MaxIdLength} characters without control characters or invalid UTF-16";
            return null;
        }

        callId = id;

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

        string? endUserHeader = null;
        if (metadata.ValueKind == JsonValueKind.Object && metadata.TryGetProperty("requester_custom_headers", out var headers) && headers.ValueKind == JsonValueKind.Object)
        {
            endUserHeader = headers.EnumerateObject().Where(h => string.Equals(h.Name, "x-litellm-end-user-id", StringComparison.OrdinalIgnoreCase))
                .Select(h => h.Value.ValueKind == JsonValueKind.String ? ClientStrings.Read(h.Value) : null).FirstOrDefault(v => !string.IsNullOrEmpty(v));
        }

        // Cache reads and writes: LiteLLM's usage object (metadata.usage_object, else the response's usage), else the top level.
        var (cached, written) = CacheTokens(entry, metadata);
        cached = Math.Min(cached, prompt);
        written = Math.Min(written, prompt - cached);

        string? Meta(string name) => metadata.ValueKind == JsonValueKind.Object && String(metadata, name) is { } value ? ClientStrings.Normalize(value) : null;
        var tags = entry.TryGetProperty("request_tags", out var tagList) && tagList.ValueKind == JsonValueKind.Array
            ? tagList.EnumerateArray().Where(t => t.ValueKind == JsonValueKind.String).Select(t => ClientStrings.Normalize(ClientStrings.Read(t))).Where(t => t.Length > 0).Take(64).ToList()
            : [];
        return new LiteLlmCall(id, runId ?? id, model, prompt, completion, cached, cost, start, Math.Max(0, (end - start).TotalMilliseconds), String(entry, "end_user"),
            Meta("user_api_key_alias"), Meta("user_api_key_hash"))
        {
            CacheWriteTokens = written,
            EndUserHeader = endUserHeader,
            KeyEndUserId = Meta("user_api_key_end_user_id"),
            TeamId = Meta("user_api_key_team_id"),
            UserId = Meta("user_api_key_user_id"),
            Tags = tags,
        };
    }

    /// <summary>
    /// Cached (read) and cache-write input tokens. LiteLLM's usage object has <c>prompt_tokens_details.cached_tokens</c>
    /// (or Anthropic's <c>cache_read_input_tokens</c>) and <c>cache_creation_input_tokens</c> (or
    /// <c>prompt_tokens_details.cache_creation_tokens</c>); it sits in <c>metadata.usage_object</c>, in
    /// <c>response.usage</c>, or — in older payloads — at the top level.
    /// </summary>
    private static (long Cached, long Written) CacheTokens(JsonElement entry, JsonElement metadata)
    {
        var sources = new List<JsonElement>(3);
        if (metadata.ValueKind == JsonValueKind.Object && metadata.TryGetProperty("usage_object", out var usageObject) && usageObject.ValueKind == JsonValueKind.Object)
        {
            sources.Add(usageObject);
        }

        if (entry.TryGetProperty("response", out var response) && response.ValueKind == JsonValueKind.Object && response.TryGetProperty("usage", out var usage) && usage.ValueKind == JsonValueKind.Object)
        {
            sources.Add(usage);
        }

        sources.Add(entry);
        foreach (var source in sources)
        {
            var details = source.TryGetProperty("prompt_tokens_details", out var d) && d.ValueKind == JsonValueKind.Object ? d : default;
            long? cached = details.ValueKind == JsonValueKind.Object && Positive(details, "cached_tokens") is { } c ? c : Positive(source, "cache_read_input_tokens");
            long? written = Positive(source, "cache_creation_input_tokens") ?? (details.ValueKind == JsonValueKind.Object ? Positive(details, "cache_creation_tokens") : null);
            if (cached is not null || written is not null)
            {
                return (cached ?? 0, written ?? 0);
            }
        }

        return (0, 0);
    }

    private static long? Positive(JsonElement element, string name)
        => element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Number && value.TryGetInt64(out var n) && n is > 0 and <= MaxTokens ? n : null;

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
