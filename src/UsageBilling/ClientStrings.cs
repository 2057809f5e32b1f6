using System.Globalization;
using System.Text;
using System.Text.Json;

namespace UsageBilling;

/// <summary>
/// Makes strings that come from clients (model names and the like) safe to keep in a usage record, a log line or a
/// metric tag: invalid UTF-16 replaced, control characters replaced, length capped.
/// </summary>
internal static class ClientStrings
{
    /// <summary>The longest client string kept, in characters.</summary>
    public const int MaxLength = 128;

    /// <summary>What replaces a control character or a lone surrogate.</summary>
    public const char Replacement = '\uFFFD';

    /// <summary>
    /// <paramref name="value"/> with lone surrogates and control characters (NUL included) replaced by U+FFFD and cut to
    /// <paramref name="maxLength"/> characters (never between the halves of a surrogate pair). Returns the same
    /// instance when nothing needs to change.
    /// </summary>
    public static string Normalize(string value, int maxLength = MaxLength)
    {
        ArgumentNullException.ThrowIfNull(value);
        var length = Math.Min(value.Length, maxLength);
        if (length > 0 && length < value.Length && char.IsHighSurrogate(value[length - 1]) && char.IsLowSurrogate(value[length]))
        {
            length--;
        }

        if (length == value.Length && IsClean(value))
        {
            return value;
        }

        return string.Create(length, value, static (span, source) =>
        {
            for (var i = 0; i < span.Length; i++)
            {
                var c = source[i];
                if (char.IsHighSurrogate(c) && i + 1 < span.Length && char.IsLowSurrogate(source[i + 1]))
                {
                    span[i] = c;
                    span[++i] = source[i];
                }
                else
                {
                    span[i] = char.IsSurrogate(c) || char.IsControl(c) ? Replacement : c;
                }
            }
        });
    }

    /// <summary>
    /// The string value of <paramref name="element"/> (a JSON string) even when it holds invalid UTF-16 (a lone
    /// surrogate escape such as <c>\ud800</c>), which <see cref="JsonElement.GetString"/> refuses: lone surrogates
    /// become U+FFFD.
    /// </summary>
    public static string Read(JsonElement element)
    {
        try
        {
            return element.GetString()!;
        }
        catch (InvalidOperationException) when (element.ValueKind == JsonValueKind.String)
        {
            return ReplaceLoneSurrogates(Unescape(element.GetRawText()));
        }
    }

    /// <summary><paramref name="value"/> with every surrogate that is not half of a pair replaced by U+FFFD.</summary>
    public static string ReplaceLoneSurrogates(string value)
    {
        var builder = new StringBuilder(value.Length);
        for (var i = 0; i < value.Length; i++)
        {
            var c = value[i];
            if (char.IsHighSurrogate(c) && i + 1 < value.Length && char.IsLowSurrogate(value[i + 1]))
            {
                builder.Append(c).Append(value[++i]);
            }
            else
            {
                builder.Append(char.IsSurrogate(c) ? Replacement : c);
            }
        }

        return builder.ToString();
    }

    private static bool IsClean(string value)
    {
        // Most client strings are printable ASCII throughout: one vectorized scan answers them.
        var first = value.AsSpan().IndexOfAnyExceptInRange(' ', '~');
        if (first < 0)
        {
            return true;
        }

        for (var i = first; i < value.Length; i++)
        {
            var c = value[i];
            if (char.IsHighSurrogate(c) && i + 1 < value.Length && char.IsLowSurrogate(value[i + 1]))
            {
                i++;
            }
            else if (char.IsSurrogate(c) || char.IsControl(c))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Decodes a quoted JSON string that the parser already validated, keeping lone surrogates as they are.</summary>
    private static string Unescape(string raw)
    {
        var builder = new StringBuilder(raw.Length);
        for (var i = 1; i < raw.Length - 1; i++)
        {
            var c = raw[i];
            if (c != '\\')
            {
                builder.Append(c);
                continue;
            }

            c = raw[++i];
            switch (c)
            {
                case 'b': builder.Append('\b'); break;
                case 'f': builder.Append('\f'); break;
                case 'n': builder.Append('\n'); break;
                case 'r': builder.Append('\r'); break;
                case 't': builder.Append('\t'); break;
                case 'u':
                    builder.Append((char)ushort.Parse(raw.AsSpan(i + 1, 4), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture));
                    i += 4;
                    break;
                default: builder.Append(c); break;
            }
        }

        return builder.ToString();
    }
}
