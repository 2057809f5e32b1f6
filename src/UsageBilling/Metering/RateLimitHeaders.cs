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
    private const int PolicySlots = 256;

    private static readonly PolicyText?[] Policies = new PolicyText?[PolicySlots];
    private static readonly LastNumber LastLimit = new();
    private static readonly LastNumber LastReset = new();
    private static readonly LastNumber LastTokenLimit = new();
    private static readonly LastNumber LastTokenReset = new();

    public static void Apply(HttpResponse response, LimitDecision decision, DateTimeOffset now)
    {
        if (decision.States.Count == 0)
        {
            return;
        }

        // A limit is the same for every call of a plan, and a reset for every call of a window: their texts are kept
        // (the last one of each); what remains is formatted for each call.
        var headers = response.Headers;
        if (decision.Binding is { } binding)
        {
            headers["X-RateLimit-Limit"] = LastLimit.Text(binding.Limit);
            headers["X-RateLimit-Remaining"] = binding.Remaining.ToString(CultureInfo.InvariantCulture);
            headers["X-RateLimit-Reset"] = LastReset.Text(binding.ResetAt.ToUnixTimeSeconds());
        }

        if (decision.TokenBinding is { } tokens)
        {
            headers["X-RateLimit-Limit-Tokens"] = LastTokenLimit.Text(tokens.Limit);
            headers["X-RateLimit-Remaining-Tokens"] = tokens.Remaining.ToString(CultureInfo.InvariantCulture);
            headers["X-RateLimit-Reset-Tokens"] = LastTokenReset.Text(tokens.ResetAt.ToUnixTimeSeconds());
        }

        // Built on the stack: only the header value is allocated. The policy's text is the same for every call of a
        // plan (its limits and window lengths), so it is kept rather than formatted for each call.
        var current = new DefaultInterpolatedStringHandler(0, 0, CultureInfo.InvariantCulture, stackalloc char[256]);
        var states = decision.States;
        for (var i = 0; i < states.Count; i++)
        {
            AppendItem(ref current, i, states[i].Policy, "r=", states[i].Remaining, "t=", SecondsUntil(states[i].ResetAt, now));
        }

        headers["RateLimit-Policy"] = PolicyOf(states);
        headers["RateLimit"] = current.ToStringAndClear();

        if (decision.Exceeded is { } exceeded)
        {
            headers.RetryAfter = SecondsUntil(exceeded.ResetAt, now).ToString(CultureInfo.InvariantCulture);
        }
    }

    /// <summary>
    /// The <c>RateLimit-Policy</c> value of <paramref name="states"/>: from a small fixed table of the texts made last
    /// (one per slot, compared in full before use), else made now and kept there.
    /// </summary>
    internal static string PolicyOf(IReadOnlyList<LimitState> states)
    {
        var hash = default(HashCode);
        for (var i = 0; i < states.Count; i++)
        {
            var state = states[i];
            hash.Add(state.Policy);
            hash.Add(state.Limit);
            hash.Add(state.WindowSeconds);
        }

        var slot = (int)((uint)hash.ToHashCode() % PolicySlots);
        if (Volatile.Read(ref Policies[slot]) is { } kept && kept.Describes(states))
        {
            return kept.Text;
        }

        var policy = new DefaultInterpolatedStringHandler(0, 0, CultureInfo.InvariantCulture, stackalloc char[256]);
        var windows = new (string Policy, long Limit, long Seconds)[states.Count];
        for (var i = 0; i < states.Count; i++)
        {
            var state = states[i];
            AppendItem(ref policy, i, state.Policy, "q=", state.Limit, "w=", state.WindowSeconds);
            windows[i] = (state.Policy, state.Limit, state.WindowSeconds);
        }

        var text = policy.ToStringAndClear();
        Volatile.Write(ref Policies[slot], new PolicyText(windows, text));
        return text;
    }

    /// <summary>
    /// Appends the <paramref name="index"/>-th item of a structured-field list (RFC 8941), as both headers have them:
    /// <c>"minute";q=60;w=60</c>, after <c>", "</c> unless it is the first.
    /// </summary>
    private static void AppendItem(ref DefaultInterpolatedStringHandler text, int index, string name, string first, long firstValue, string second, long secondValue)
    {
        if (index > 0)
        {
            text.AppendLiteral(", ");
        }

        text.AppendLiteral("\"");
        text.AppendFormatted(name);
        text.AppendLiteral("\";");
        text.AppendLiteral(first);
        text.AppendFormatted(firstValue);
        text.AppendLiteral(";");
        text.AppendLiteral(second);
        text.AppendFormatted(secondValue);
    }

    public static long SecondsUntil(DateTimeOffset resetAt, DateTimeOffset now)
        => Math.Max(1, (long)Math.Ceiling((resetAt - now).TotalSeconds));

    /// <summary>The text of the last number asked for, kept until another number is asked for.</summary>
    private sealed class LastNumber
    {
        private Formatted? _last;

        public string Text(long value)
        {
            if (Volatile.Read(ref _last) is { } last && last.Value == value)
            {
                return last.Text;
            }

            var text = value.ToString(CultureInfo.InvariantCulture);
            Volatile.Write(ref _last, new Formatted(value, text));
            return text;
        }

        private sealed record Formatted(long Value, string Text);
    }

    /// <summary>A <c>RateLimit-Policy</c> value and the windows it describes.</summary>
    private sealed class PolicyText((string Policy, long Limit, long Seconds)[] windows, string text)
    {
        public string Text { get; } = text;

        public bool Describes(IReadOnlyList<LimitState> states)
        {
            if (states.Count != windows.Length)
            {
                return false;
            }

            for (var i = 0; i < windows.Length; i++)
            {
                if (windows[i].Limit != states[i].Limit || windows[i].Seconds != states[i].WindowSeconds
                    || !string.Equals(windows[i].Policy, states[i].Policy, StringComparison.Ordinal))
                {
                    return false;
                }
            }

            return true;
        }
    }
}
