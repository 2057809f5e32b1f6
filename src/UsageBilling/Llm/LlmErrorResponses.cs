using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace UsageBilling;

/// <summary>
/// Refusals on endpoints metered with an LLM API format, written in that API's error shape so that its SDKs show the
/// reason: OpenAI <c>{"error":{"message","type","param","code"}}</c>, Anthropic
/// <c>{"type":"error","error":{"type","message"}}</c>. The status code and headers are those of the problem; the
/// stable problem type is the OpenAI <c>code</c> (and ends the Anthropic message).
/// </summary>
internal static class LlmErrorResponses
{
    /// <summary>The API format of the endpoint, when it is metered with <c>.MeterLlmUsage()</c>.</summary>
    public static LlmApiFormat? FormatOf(HttpContext context)
        => context.GetEndpoint()?.Metadata.GetMetadata<MeterLlmUsageAttribute>() is { } metered
            ? LlmRequestParser.ResolveFormat(metered.Format, context.Request.Path.Value ?? "")
            : null;

    public static async Task WriteAsync(HttpContext context, LlmApiFormat format, int status, string type, string detail, IDictionary<string, object?>? extensions)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";
        var param = extensions is not null && extensions.ContainsKey("model") && type is ProblemTypes.UnknownModel or ProblemTypes.ModelNotInPlan ? "model" : null;
        var buffer = new System.Buffers.ArrayBufferWriter<byte>(256);
        await using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            if (format == LlmApiFormat.AnthropicMessages)
            {
                json.WriteString("type", "error");
                json.WriteStartObject("error");
                json.WriteString("type", AnthropicType(status));
                json.WriteString("message", $"{detail} ({type})");
            }
            else
            {
                json.WriteStartObject("error");
                json.WriteString("message", detail);
                json.WriteString("type", OpenAIType(status));
                json.WriteString("param", param);
                json.WriteString("code", type);
            }

            // The problem's extensions (required and available credit, the model, the budget...) stay machine-readable; SDKs ignore them.
            foreach (var (name, value) in extensions ?? new Dictionary<string, object?>())
            {
                if (name is not ("type" or "message" or "param" or "code"))
                {
                    json.WritePropertyName(name);
                    JsonSerializer.Serialize(json, value, value?.GetType() ?? typeof(object), JsonSerializerOptions.Web);
                }
            }

            json.WriteEndObject();
            json.WriteEndObject();
        }

        await context.Response.Body.WriteAsync(buffer.WrittenMemory, context.RequestAborted).ConfigureAwait(false);
    }

    /// <summary>OpenAI's error types, by status (402 has none of its own: OpenAI reports exhausted credit as <c>insufficient_quota</c>).</summary>
    private static string OpenAIType(int status) => status switch
    {
        401 => "authentication_error",
        402 => "insufficient_quota",
        403 => "permission_error",
        404 => "not_found_error",
        429 => "rate_limit_error",
        >= 500 => "server_error",
        _ => "invalid_request_error",
    };

    /// <summary>Anthropic's error types, by status.</summary>
    private static string AnthropicType(int status) => status switch
    {
        401 => "authentication_error",
        402 => "billing_error",
        403 => "permission_error",
        404 => "not_found_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        503 => "overloaded_error",
        >= 500 => "api_error",
        _ => "invalid_request_error",
    };
}

