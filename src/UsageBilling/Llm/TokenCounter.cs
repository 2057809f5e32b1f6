using System.Collections.Concurrent;
using System.Text;
using Microsoft.Extensions.Options;
using Microsoft.ML.Tokenizers;

namespace UsageBilling;

/// <summary>
/// Counts tokens with <c>Microsoft.ML.Tokenizers</c> (o200k_base or cl100k_base by model family; the vocabularies
/// come from the NuGet data packages, nothing is downloaded). Used to reserve before a call and to estimate when
/// an upstream reports no usage.
/// </summary>
/// <remarks>
/// The work is linear in the length of the text whatever its content. BPE merging costs the square of a pre-token's
/// length, so a pre-token longer than <see cref="MaxPreciseRun"/> characters (one long run of the same character, say)
/// is counted by its UTF-8 byte length instead, and so is everything past <see cref="LlmOptions.MaxCountedCharacters"/>.
/// Every byte-level BPE token covers at least one byte, so the byte length is never below the precise count: the
/// estimate stays an upper bound, which is all a reservation needs.
/// </remarks>
internal sealed class TokenCounter
{
    /// <summary>Tokens every chat message adds for its role and separators, and the reply primer (OpenAI's published rule).</summary>
    internal const int TokensPerMessage = 3;
    internal const int ReplyPrimerTokens = 3;

    /// <summary>The longest pre-token handed to the BPE; longer ones are counted by their UTF-8 byte length.</summary>
    internal const int MaxPreciseRun = 256;

    /// <summary>How many pre-tokens are counted between two looks at the cancellation token.</summary>
    private const int CancellationCheckInterval = 1024;

    private static readonly ConcurrentDictionary<string, Lazy<Tokenizer>> Tokenizers = new(StringComparer.Ordinal);
    private static readonly UTF8Encoding Utf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: false);
    private readonly IOptionsMonitor<UsageBillingOptions> _options;

    public TokenCounter(IOptionsMonitor<UsageBillingOptions> options) => _options = options;

    public long CountInput(LlmRequest request, CancellationToken cancellationToken = default)
    {
        var tokenizer = For(request.Model);
        var budget = (long)_options.CurrentValue.Llm.MaxCountedCharacters;
        long total = ReplyPrimerTokens + (long)TokensPerMessage * request.MessageCount;
        foreach (var segment in request.TextSegments)
        {
            total += Count(tokenizer, segment, ref budget, cancellationToken).Tokens;
        }

        return total;
    }

    public long CountText(string model, string text, CancellationToken cancellationToken = default)
    {
        if (text.Length == 0)
        {
            return 0;
        }

        var budget = (long)_options.CurrentValue.Llm.MaxCountedCharacters;
        return Count(For(model), text, ref budget, cancellationToken).Tokens;
    }

    /// <summary>
    /// Counts <paramref name="text"/>: precisely pre-token by pre-token while <paramref name="budget"/> (characters) lasts
    /// and the pre-token is short, by UTF-8 byte length otherwise.
    /// </summary>
    /// <returns>The count, and the longest piece handed to the BPE (what makes the work linear).</returns>
    internal static (long Tokens, int LongestPrecisePiece) Count(Tokenizer tokenizer, string text, ref long budget, CancellationToken cancellationToken)
    {
        if (text.Length == 0)
        {
            return (0, 0);
        }

        if (budget <= 0 || tokenizer.PreTokenizer is null)
        {
            budget -= text.Length;
            return (Utf8.GetByteCount(text), 0);
        }

        long tokens = 0;
        var longest = 0;
        var seen = 0;
        foreach (var (offset, length) in tokenizer.PreTokenizer.PreTokenize(text))
        {
            if (++seen % CancellationCheckInterval == 0)
            {
                cancellationToken.ThrowIfCancellationRequested();
            }

            if (length > budget)
            {
                // Past the cap: the rest of the text is counted by bytes, in one pass.
                budget = 0;
                return (tokens + Utf8.GetByteCount(text.AsSpan(offset)), longest);
            }

            budget -= length;
            var piece = text.AsSpan(offset, length);
            if (length > MaxPreciseRun)
            {
                tokens += Utf8.GetByteCount(piece);
            }
            else
            {
                tokens += tokenizer.CountTokens(piece, considerPreTokenization: false, considerNormalization: false);
                longest = Math.Max(longest, length);
            }
        }

        return (tokens, longest);
    }

    internal string EncodingFor(string model)
    {
        var llm = _options.CurrentValue.Llm;
        var name = model.Trim();
        var slash = name.LastIndexOf('/');
        if (slash >= 0)
        {
            name = name[(slash + 1)..];
        }

        string? best = null;
        foreach (var (prefix, encoding) in llm.EncodingByModelPrefix)
        {
            if (name.StartsWith(prefix, StringComparison.OrdinalIgnoreCase) && (best is null || prefix.Length > best.Length))
            {
                best = prefix;
            }
        }

        return best is null ? llm.DefaultEncoding : llm.EncodingByModelPrefix[best];
    }

    internal Tokenizer For(string model)
    {
        var encoding = EncodingFor(model);
        return Tokenizers.GetOrAdd(encoding, static e => new Lazy<Tokenizer>(() => TiktokenTokenizer.CreateForEncoding(e))).Value;
    }
}
