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
    private static readonly KeptValues<PolicyText> Policies = new(256);
    private static readonly KeptValues<NumberText> Numbers = new(64);

    public static void Apply(HttpResponse response, LimitDecision decision, DateTimeOffset now)
    {
        if (decision.States.Count == 0)
        {
            return;
        }

        // A limit is the same for every call of a plan, and a reset for every call of a window: their texts are kept;
        // what remains is formatted for each call.
        var headers = response.Headers;
        if (decision.Binding is { } binding)
        {
            headers["X-RateLimit-Limit"] = TextOf(binding.Limit);
            headers["X-RateLimit-Remaining"] = binding.Remaining.ToString(CultureInfo.InvariantCulture);
            headers["X-RateLimit-Reset"] = TextOf(binding.ResetAt.ToUnixTimeSeconds());
        }

        if (decision.TokenBinding is { } tokens)
        {
            headers["X-RateLimit-Limit-Tokens"] = TextOf(tokens.Limit);
            headers["X-RateLimit-Remaining-Tokens"] = tokens.Remaining.ToString(CultureInfo.InvariantCulture);
            headers["X-RateLimit-Reset-Tokens"] = TextOf(tokens.ResetAt.ToUnixTimeSeconds());
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

        return Policies.Get(hash.ToHashCode(), states, static (kept, states) => kept.Describes(states), static states =>
        {
            var policy = new DefaultInterpolatedStringHandler(0, 0, CultureInfo.InvariantCulture, stackalloc char[256]);
            var windows = new (string Policy, long Limit, long Seconds)[states.Count];
            for (var i = 0; i < states.Count; i++)
            {
                var state = states[i];
                AppendItem(ref policy, i, state.Policy, "q=", state.Limit, "w=", state.WindowSeconds);
                windows[i] = (state.Policy, state.Limit, state.WindowSeconds);
            }

            return new PolicyText(windows, policy.ToStringAndClear());
        }).Text;
    }

    /// <summary>
    /// The text of <paramref name="value"/>, kept: a limit or a reset time is the same for many calls. Hashed by
    /// multiplying with 2^64 / φ and keeping the high bits, not by the value's low bits (reset times at whole days are
    /// multiples of 128 seconds and would all share a slot); the same in every process, unlike <see cref="HashCode"/>.
    /// </summary>
    internal static string TextOf(long value)
        => Numbers.Get((int)((ulong)value * 0x9E3779B97F4A7C15UL >> 40), value, static (kept, value) => kept.Value == value,
            static value => new NumberText(value, value.ToString(CultureInfo.InvariantCulture))).Text;

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

    /// <summary>A number and its text.</summary>
    private sealed record NumberText(long Value, string Text);

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
