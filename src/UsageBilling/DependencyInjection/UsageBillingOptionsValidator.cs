using Microsoft.Extensions.Options;

namespace UsageBilling;

/// <summary>Refuses start-up with a precise message when an option is out of range.</summary>
internal sealed class UsageBillingOptionsValidator : IValidateOptions<UsageBillingOptions>
{
    public ValidateOptionsResult Validate(string? name, UsageBillingOptions options)
    {
        var failures = new List<string>();
        var prefix = options.Keys.Prefix;
        if (string.IsNullOrEmpty(prefix) || prefix.Length is < 2 or > 16 || !prefix.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_'))
        {
            failures.Add($"UsageBilling:Keys:Prefix must be 2 to 16 characters of ASCII letters, digits, '-' and '_' (was '{prefix}').");
        }

        if (options.Keys.Pepper is { Length: > 0 and < 32 })
        {
            failures.Add("UsageBilling:Keys:Pepper must be at least 32 characters when set.");
        }

        if (options.Keys.CacheDuration < TimeSpan.Zero || options.Keys.CacheDuration > TimeSpan.FromMinutes(5))
        {
            failures.Add("UsageBilling:Keys:CacheDuration must be between 0 and 5 minutes (revocations take this long to reach other instances).");
        }

        if (options.Keys.NegativeCacheDuration < TimeSpan.Zero || options.Keys.NegativeCacheDuration > options.Keys.CacheDuration && options.Keys.CacheDuration > TimeSpan.Zero)
        {
            failures.Add("UsageBilling:Keys:NegativeCacheDuration must be between 0 and CacheDuration.");
        }

        if (options.Keys.HeaderNames.Any(string.IsNullOrWhiteSpace))
        {
            failures.Add("UsageBilling:Keys:HeaderNames must not contain empty names.");
        }

        if (options.Credits.ReservationTimeout < TimeSpan.FromSeconds(1))
        {
            failures.Add("UsageBilling:Credits:ReservationTimeout must be at least 1 second.");
        }

        if (options.Credits.SweepInterval < TimeSpan.FromMilliseconds(100))
        {
            failures.Add("UsageBilling:Credits:SweepInterval must be at least 100 ms.");
        }

        if (options.Credits.SweepBatchSize < 1)
        {
            failures.Add("UsageBilling:Credits:SweepBatchSize must be at least 1.");
        }

        if (string.IsNullOrWhiteSpace(options.Plans.DefaultPlan))
        {
            failures.Add("UsageBilling:Plans:DefaultPlan must not be empty.");
        }

        foreach (var (plan, limits) in options.Plans.Limits)
        {
            foreach (var (limitName, value) in limits.All())
            {
                if (value is < 1)
                {
                    failures.Add($"UsageBilling:Plans:Limits:{plan}:{limitName} must be at least 1 when set (was {value}).");
                }
            }
        }

        foreach (var (priceName, units) in options.Pricing.Endpoints)
        {
            if (units < 0 || !Money.TryFromUnits(units, out _))
            {
                failures.Add($"UsageBilling:Pricing:Endpoints:{priceName} must be a non-negative amount with at most 9 decimal places (was {units}).");
            }
        }

        var models = options.Pricing.Models.Select((m, i) => ($"UsageBilling:Pricing:Models:{i}", m));
        if (options.Pricing.DefaultModelPrice is { } defaultPrice)
        {
            models = models.Append(("UsageBilling:Pricing:DefaultModelPrice", defaultPrice));
        }

        foreach (var (path, model) in models)
        {
            ValidateModelPrice(path, model, requireName: path != "UsageBilling:Pricing:DefaultModelPrice", failures);
        }

        if (!string.IsNullOrWhiteSpace(options.Pricing.LiteLlmCatalogUrl))
        {
            if (!string.IsNullOrWhiteSpace(options.Pricing.LiteLlmCatalogFile))
            {
                failures.Add("UsageBilling:Pricing:LiteLlmCatalogFile and LiteLlmCatalogUrl are both set: set one LiteLLM catalogue, a file or a URL.");
            }

            if (!Uri.TryCreate(options.Pricing.LiteLlmCatalogUrl, UriKind.Absolute, out var catalogUrl) || (catalogUrl.Scheme != Uri.UriSchemeHttp && catalogUrl.Scheme != Uri.UriSchemeHttps))
            {
                failures.Add($"UsageBilling:Pricing:LiteLlmCatalogUrl must be an absolute http or https URL (was '{options.Pricing.LiteLlmCatalogUrl}').");
            }
        }

        if (options.Pricing.LiteLlmCatalogRefresh < TimeSpan.FromMinutes(1))
        {
            failures.Add($"UsageBilling:Pricing:LiteLlmCatalogRefresh must be at least 00:01:00 (was {options.Pricing.LiteLlmCatalogRefresh}).");
        }

        if (options.Pricing.UnknownModel == UnknownModelPolicy.DefaultPrice && options.Pricing.DefaultModelPrice is null)
        {
            failures.Add("UsageBilling:Pricing:DefaultModelPrice must be set when UnknownModel is DefaultPrice.");
        }

        foreach (var (plan, markup) in options.Pricing.PlanMarkupPercent)
        {
            if (markup <= -100m || markup > 10_000m)
            {
                failures.Add($"UsageBilling:Pricing:PlanMarkupPercent:{plan} must be above -100 and at most 10000 (was {markup}).");
            }
        }

        if (options.Ingest.Secret is { Length: > 0 and < 32 })
        {
            failures.Add("UsageBilling:Ingest:Secret must be at least 32 characters when set.");
        }

        foreach (var source in options.Ingest.AccountFrom.Concat(options.Ingest.AccountMaps.Keys))
        {
            if (!IngestAccountSources.All.Contains(source.Trim().ToLowerInvariant()))
            {
                failures.Add($"UsageBilling:Ingest: '{source}' is not an account source; use {string.Join(", ", IngestAccountSources.All)}.");
            }
        }

        if (options.Ingest.MaxEntriesPerPost < 1)
        {
            failures.Add("UsageBilling:Ingest:MaxEntriesPerPost must be at least 1.");
        }

        foreach (var (level, multiplier) in options.Pricing.Multipliers)
        {
            if (multiplier < 0m || multiplier > 1000m)
            {
                failures.Add($"UsageBilling:Pricing:Multipliers:{level} must be between 0 and 1000 (was {multiplier}).");
            }
        }

        if (string.IsNullOrWhiteSpace(options.Pricing.MultiplierHeader))
        {
            failures.Add("UsageBilling:Pricing:MultiplierHeader must not be empty.");
        }

        var encodings = new[] { "o200k_base", "cl100k_base" };
        foreach (var encoding in options.Llm.EncodingByModelPrefix.Values.Append(options.Llm.DefaultEncoding))
        {
            if (!encodings.Contains(encoding, StringComparer.Ordinal))
            {
                failures.Add($"UsageBilling:Llm encodings must be o200k_base or cl100k_base (was '{encoding}').");
            }
        }

        if (options.Llm.DefaultMaxOutputTokens < 1 || options.Llm.MaxJsonResponseBytes < 1024 || options.Llm.MaxRequestBytes < 1024)
        {
            failures.Add("UsageBilling:Llm:DefaultMaxOutputTokens must be at least 1, MaxJsonResponseBytes and MaxRequestBytes at least 1024.");
        }

        if (options.Llm.DefaultMaxOutputTokens > LlmRequestParser.MaxOutputTokensLimit)
        {
            failures.Add($"UsageBilling:Llm:DefaultMaxOutputTokens must be at most {LlmRequestParser.MaxOutputTokensLimit} (was {options.Llm.DefaultMaxOutputTokens}).");
        }

        if (options.Llm.MaxCountedCharacters < 1)
        {
            failures.Add($"UsageBilling:Llm:MaxCountedCharacters must be at least 1 (was {options.Llm.MaxCountedCharacters}).");
        }

        if (options.UsageLog.QueueCapacity < 1 || options.UsageLog.BatchSize < 1 || options.UsageLog.InMemoryCapacity < 1)
        {
            failures.Add("UsageBilling:UsageLog:QueueCapacity, BatchSize and InMemoryCapacity must be at least 1.");
        }

        if (options.UsageLog.FlushInterval <= TimeSpan.Zero || options.UsageLog.MaxRetryDelay <= TimeSpan.Zero)
        {
            failures.Add("UsageBilling:UsageLog:FlushInterval and MaxRetryDelay must be positive.");
        }

        if (options.UsageLog.MaxEnqueueWait < TimeSpan.Zero || options.UsageLog.MaxEnqueueWait > TimeSpan.FromMinutes(1))
        {
            failures.Add($"UsageBilling:UsageLog:MaxEnqueueWait must be from 0 to 1 minute (was {options.UsageLog.MaxEnqueueWait}).");
        }

        if (options.UsageLog.MaxBatchAttempts < 1)
        {
            failures.Add($"UsageBilling:UsageLog:MaxBatchAttempts must be at least 1 (was {options.UsageLog.MaxBatchAttempts}).");
        }

        if (options.Idempotency.MaxResponseBytes < 0 || options.Idempotency.ReplayFor < TimeSpan.FromSeconds(1))
        {
            failures.Add("UsageBilling:Idempotency:MaxResponseBytes must not be negative and ReplayFor must be at least 1 s.");
        }

        if (options.IsBillableStatusCode is null)
        {
            failures.Add("UsageBilling:IsBillableStatusCode must not be null.");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    /// <summary>The rules for one model price, from configuration or the price file: each failure starts with <paramref name="path"/>.</summary>
    internal static void ValidateModelPrice(string path, ModelPriceOptions model, bool requireName, List<string> failures)
    {
        if (requireName && string.IsNullOrWhiteSpace(model.Model))
        {
            failures.Add($"{path}:Model must name the model.");
        }

        foreach (var (field, value) in new[]
        {
            ("Input", model.Input), ("Output", model.Output), ("CachedInput", model.CachedInput ?? 0), ("RequestFee", model.RequestFee),
            ("CacheWrite5m", model.CacheWrite5m ?? 0), ("CacheWrite1h", model.CacheWrite1h ?? 0), ("ReasoningOutput", model.ReasoningOutput ?? 0),
            ("AudioInput", model.AudioInput ?? 0), ("AudioOutput", model.AudioOutput ?? 0), ("WebSearchRequest", model.WebSearchRequest), ("Image", model.Image),
        })
        {
            if (value < 0 || !Money.TryFromUnits(value, out _))
            {
                failures.Add($"{path}:{field} must be a non-negative amount with at most 9 decimal places (was {value}).");
            }
        }

        if (model.LongContextThreshold is < 1)
        {
            failures.Add($"{path}:LongContextThreshold must be a positive number of input tokens (was {model.LongContextThreshold}).");
        }

        if (model.LongContext is not null && model.LongContextThreshold is null)
        {
            failures.Add($"{path}:LongContext needs LongContextThreshold.");
        }

        var tiers = model.ServiceTiers.Select(t => ($"ServiceTiers:{t.Key}", t.Value));
        foreach (var (name, tier) in model.LongContext is { } longContext ? tiers.Append(("LongContext", longContext)) : tiers)
        {
            if (tier.Multiplier < 0m || tier.Multiplier > 1000m)
            {
                failures.Add($"{path}:{name}:Multiplier must be between 0 and 1000 (was {tier.Multiplier}).");
            }

            foreach (var (field, value) in new[] { ("Input", tier.Input), ("Output", tier.Output), ("CachedInput", tier.CachedInput), ("CacheWrite5m", tier.CacheWrite5m), ("CacheWrite1h", tier.CacheWrite1h), ("ReasoningOutput", tier.ReasoningOutput) })
            {
                if (value is { } v && (v < 0 || !Money.TryFromUnits(v, out _)))
                {
                    failures.Add($"{path}:{name}:{field} must be a non-negative amount with at most 9 decimal places (was {v}).");
                }
            }
        }
    }
}
