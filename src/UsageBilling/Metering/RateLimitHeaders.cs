using System.Globalization;
using System.Text;
using Microsoft.AspNetCore.Http;

namespace UsageBilling;

/// <summary>
/// Writes <c>X-RateLimit-Limit</c>/<c>-Remaining</c>/<c>-Reset</c> (Unix seconds) for the request limit with the least
/// remaining, <c>X-RateLimit-Limit-Tokens</c>/<c>-Remaining-Tokens</c>/<c>-Reset-Tokens</c> for the LLM token limit, and the IETF <c>RateLimit-Policy</c> / <c>RateLimit</c> fields (draft-ietf-httpapi-ratelimit-headers)
/// for every limit, for example <c>RateLimit-Policy: "minute";q=60;w=60</c> and <c>RateLimit: "minute";r=59;t=12</c>.
/// </summary>
internal static class RateLimitHeaders
{
    public static void Apply(HttpResponse response, LimitDecision decision, DateTimeOffset now)
    {
        if (decision.States.Count == 0)
        {
            return;
        }

        var headers = response.Headers;
        if (decision.Binding is { } binding)
        {
            headers["X-RateLimit-Limit"] = binding.Limit.ToString(CultureInfo.InvariantCulture);
            headers["X-RateLimit-Remaining"] = binding.Remaining.ToString(CultureInfo.InvariantCulture);
            headers["X-RateLimit-Reset"] = binding.ResetAt.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
        }

        if (decision.TokenBinding is { } tokens)
        {
            headers["X-RateLimit-Limit-Tokens"] = tokens.Limit.ToString(CultureInfo.InvariantCulture);
            headers["X-RateLimit-Remaining-Tokens"] = tokens.Remaining.ToString(CultureInfo.InvariantCulture);
            headers["X-RateLimit-Reset-Tokens"] = tokens.ResetAt.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
        }

        var policy = new StringBuilder();
        var current = new StringBuilder();
        foreach (var state in decision.States)
        {
            if (policy.Length > 0)
            {
                policy.Append(", ");
                current.Append(", ");
            }

            policy.Append(CultureInfo.InvariantCulture, $"\"{state.Policy}\";q={state.Limit};w={state.WindowSeconds}");
            current.Append(CultureInfo.InvariantCulture, $"\"{state.Policy}\";r={state.Remaining};t={SecondsUntil(state.ResetAt, now)}");
        }

        headers["RateLimit-Policy"] = policy.ToString();
        headers["RateLimit"] = current.ToString();

        if (decision.Exceeded is { } exceeded)
        {
            headers.RetryAfter = SecondsUntil(exceeded.ResetAt, now).ToString(CultureInfo.InvariantCulture);
        }
    }

    public static long SecondsUntil(DateTimeOffset resetAt, DateTimeOffset now)
        => Math.Max(1, (long)Math.Ceiling((resetAt - now).TotalSeconds));
}
