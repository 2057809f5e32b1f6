using System.Globalization;
using System.Runtime.CompilerServices;
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

        // Built on the stack: only the two header values are allocated.
        var policy = new DefaultInterpolatedStringHandler(0, 0, CultureInfo.InvariantCulture, stackalloc char[256]);
        var current = new DefaultInterpolatedStringHandler(0, 0, CultureInfo.InvariantCulture, stackalloc char[256]);
        var first = true;
        foreach (var state in decision.States)
        {
            if (!first)
            {
                policy.AppendLiteral(", ");
                current.AppendLiteral(", ");
            }

            first = false;
            policy.AppendLiteral("\"");
            policy.AppendFormatted(state.Policy);
            policy.AppendLiteral("\";q=");
            policy.AppendFormatted(state.Limit);
            policy.AppendLiteral(";w=");
            policy.AppendFormatted(state.WindowSeconds);
            current.AppendLiteral("\"");
            current.AppendFormatted(state.Policy);
            current.AppendLiteral("\";r=");
            current.AppendFormatted(state.Remaining);
            current.AppendLiteral(";t=");
            current.AppendFormatted(SecondsUntil(state.ResetAt, now));
        }

        headers["RateLimit-Policy"] = policy.ToStringAndClear();
        headers["RateLimit"] = current.ToStringAndClear();

        if (decision.Exceeded is { } exceeded)
        {
            headers.RetryAfter = SecondsUntil(exceeded.ResetAt, now).ToString(CultureInfo.InvariantCulture);
        }
    }

    public static long SecondsUntil(DateTimeOffset resetAt, DateTimeOffset now)
        => Math.Max(1, (long)Math.Ceiling((resetAt - now).TotalSeconds));
}
