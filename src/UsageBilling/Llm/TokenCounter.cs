using System.Collections.Concurrent;
using Microsoft.Extensions.Options;
using Microsoft.ML.Tokenizers;

namespace UsageBilling;

/// <summary>
/// Counts tokens with <c>Microsoft.ML.Tokenizers</c> (o200k_base or cl100k_base by model family; the vocabularies
/// come from the NuGet data packages, nothing is downloaded). Used to reserve before a call and to estimate when
/// an upstream reports no usage.
/// </summary>
internal sealed class TokenCounter
{
    /// <summary>Tokens every chat message adds for its role and separators, and the reply primer (OpenAI's published rule).</summary>
    internal const int TokensPerMessage = 3;
    internal const int ReplyPrimerTokens = 3;

    private static readonly ConcurrentDictionary<string, Lazy<Tokenizer>> Tokenizers = new(StringComparer.Ordinal);
    private readonly IOptionsMonitor<UsageBillingOptions> _options;

    public TokenCounter(IOptionsMonitor<UsageBillingOptions> options) => _options = options;

    public long CountInput(LlmRequest request)
    {
        var tokenizer = For(request.Model);
        long total = ReplyPrimerTokens + (long)TokensPerMessage * request.MessageCount;
        foreach (var segment in request.TextSegments)
        {
            total += tokenizer.CountTokens(segment);
        }

        return total;
    }

    public long CountText(string model, string text) => text.Length == 0 ? 0 : For(model).CountTokens(text);

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

    private Tokenizer For(string model)
    {
        var encoding = EncodingFor(model);
        return Tokenizers.GetOrAdd(encoding, static e => new Lazy<Tokenizer>(() => TiktokenTokenizer.CreateForEncoding(e))).Value;
    }
}
