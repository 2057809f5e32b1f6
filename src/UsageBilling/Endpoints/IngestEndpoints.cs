using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace UsageBilling;

/// <summary>Bills usage which happened in another gateway (mapped by <see cref="UsageBillingEndpointRouteBuilderExtensions.MapLiteLlmUsageIngest"/>).</summary>
internal static partial class IngestEndpoints
{
    /// <inheritdoc cref="UsageBillingEndpointRouteBuilderExtensions.MapLiteLlmUsageIngest"/>
    public static RouteHandlerBuilder Map(IEndpointRouteBuilder endpoints, string pattern)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        if (endpoints.ServiceProvider.GetService<UsageBillingMarker>() is null)
        {
            throw new InvalidOperationException("Call 'builder.Services.AddUsageBilling(...)' before mapping the usage ingest endpoint.");
        }

        return endpoints.MapPost(pattern, IngestAsync).WithTags(UsageBillingOpenApiConfiguration.IngestTag)
            .WithMetadata(new IngestEndpointMetadata())
            .Describe("ingestLiteLlmUsage", "Bills LiteLLM success-callback payloads (generic_api) once each.")
            .Accepts<JsonElement>("application/json")
            .ProducesJson<RouteHandlerBuilder, IngestResult>()
            .ProducesProblems(StatusCodes.Status400BadRequest, StatusCodes.Status401Unauthorized, StatusCodes.Status503ServiceUnavailable);
    }

    private static async Task<IResult> IngestAsync(HttpContext context, IOptionsMonitor<UsageBillingOptions> options, IIngestAccountResolver resolver,
        IAccountStore accounts, IPricingCatalog pricing, MeteredCalls calls, TimeProvider time, ILoggerFactory loggers)
    {
        var settings = options.CurrentValue.Ingest;
        if (!Authorized(context.Request, settings.Secret))
        {
            return Problems.Result(StatusCodes.Status401Unauthorized, ProblemTypes.InvalidIngestToken, "Unauthorized",
                "Send the ingest secret as 'Authorization: Bearer <secret>'.");
        }

        JsonDocument document;
        try
        {
            document = await JsonDocument.ParseAsync(context.Request.Body, default, context.RequestAborted).ConfigureAwait(false);
        }
        catch (JsonException)
        {
            return Problems.Invalid("body", "The body must be a JSON array of LiteLLM logging payloads, or one payload.");
        }

        using (document)
        {
            var entries = document.RootElement.ValueKind switch
            {
                JsonValueKind.Array => document.RootElement.EnumerateArray().ToList(),
                JsonValueKind.Object => [document.RootElement],
                _ => null,
            };
            if (entries is null)
            {
                return Problems.Invalid("body", "The body must be a JSON array of LiteLLM logging payloads, or one payload.");
            }

            if (entries.Count > settings.MaxEntriesPerPost)
            {
                return Problems.Invalid("body", $"At most {settings.MaxEntriesPerPost} entries per post.");
            }

            var logger = loggers.CreateLogger(typeof(IngestEndpoints));
            var result = new IngestResult();
            for (var index = 0; index < entries.Count; index++)
            {
                Outcome outcome;
                try
                {
                    outcome = await IngestOneAsync(entries[index], settings.Pricing, settings.AccountFrom, resolver, accounts, pricing, calls, time, context.RequestAborted).ConfigureAwait(false);
                }
                catch (Exception ex) when (!context.RequestAborted.IsCancellationRequested)
                {
                    // A store failed part-way: what was written stays written once, and the sender's retry finishes the rest.
                    Log.StoreUnavailable(logger, ex, index);
                    context.Response.Headers.RetryAfter = "5";
                    return Problems.Result(StatusCodes.Status503ServiceUnavailable, ProblemTypes.StoreUnavailable, "Service Unavailable",
                        $"A billing store failed at entry {index}; retry the whole post: entries already billed are recognised and not billed again.");
                }

                switch (outcome.Kind)
                {
                    case OutcomeKind.Processed:
                        result.Processed++;
                        result.AcceptedEntries.Add(AcceptedEntry.Of(index, outcome.CallId, duplicate: false, outcome.At!.Value));
                        break;
                    case OutcomeKind.Duplicate:
                        result.Duplicates++;
                        result.AcceptedEntries.Add(AcceptedEntry.Of(index, outcome.CallId, duplicate: true, outcome.At!.Value));
                        break;
                    default:
                        result.Skipped++;
                        result.SkippedEntries.Add(new SkippedEntry(index, outcome.CallId, outcome.Reason!));
                        Log.Skipped(logger, index, outcome.CallId, outcome.Reason!);
                        break;
                }
            }

            return TypedResults.Ok(result);
        }
    }

    private static async Task<Outcome> IngestOneAsync(JsonElement entry, IngestPricing mode, IList<string> sourceOrder, IIngestAccountResolver resolver, IAccountStore accounts,
        IPricingCatalog pricing, MeteredCalls calls, TimeProvider time, CancellationToken cancellationToken)
    {
        var call = LiteLlmPayload.TryRead(entry, time.GetUtcNow(), out var callId, out var reason);
        if (call is null)
        {
            return Outcome.Skip(callId, reason!);
        }

        var ingested = call.ForResolution();
        var accountId = await resolver.ResolveAsync(ingested, cancellationToken).ConfigureAwait(false);
        var account = accountId is null ? null : await accounts.FindAsync(accountId, cancellationToken).ConfigureAwait(false);
        if (account is null)
        {
            var sources = sourceOrder.Count > 0 ? sourceOrder : IngestAccountSources.Default;
            var tried = sources.Select(s => $"{s}={string.Join("|", ingested.ValuesOf(s.Trim().ToLowerInvariant()).Select(v => $"'{v}'"))}");
            return Outcome.Skip(call.CallId, $"no billing account from {string.Join(", ", tried)} and no default account");
        }

        Money cost;
        LlmCostBreakdown? breakdown = null;
        var usage = new LlmUsage(call.PromptTokens - call.CachedTokens - call.CacheWriteTokens, call.CachedTokens, call.CompletionTokens) { CacheWrite5mTokens = call.CacheWriteTokens };
        var model = call.Model;
        if (mode == IngestPricing.ReportedCost)
        {
            if (call.ResponseCost is not { } reported)
            {
                return Outcome.Skip(call.CallId, "no 'response_cost' to bill");
            }

            cost = new Money((long)decimal.Ceiling(reported * Money.NanosPerUnit));
        }
        else
        {
            var price = await pricing.GetModelPriceAsync(call.Model, call.StartTime, cancellationToken).ConfigureAwait(false);
            if (price is null)
            {
                return Outcome.Skip(call.CallId, $"the model '{call.Model}' has no price");
            }

            model = price.Model;
            breakdown = LlmCost.Explain(price, usage, await pricing.GetPlanMarkupPercentAsync(account.Plan, cancellationToken).ConfigureAwait(false));
            cost = breakdown.Total;
        }

        // Charge, budget spend and usage record are each written once, however often the entry is posted: a re-post
        // after a partial failure finishes what the first post left undone.
        var duplicate = await calls.RecordIngestedAsync(account, cost, "ingest:litellm:" + call.IdempotencyKey, $"litellm {model}", call.StartTime, new UsageRecord
        {
            RequestId = "litellm:" + call.IdempotencyKey,
            Timestamp = call.StartTime,
            AccountId = account.Id,
            KeyId = (call.KeyAlias ?? call.KeyHash) is { } gatewayKey ? "litellm:" + gatewayKey : null,
            Method = "POST",
            Route = "litellm",
            StatusCode = StatusCodes.Status200OK,
            DurationMs = call.DurationMs,
            Cost = cost,
            Model = model,
            InputTokens = usage.InputTokens + usage.CacheWriteTokens,
            CachedInputTokens = usage.CachedInputTokens,
            OutputTokens = usage.OutputTokens,
            CostBreakdown = breakdown?.ToJson(),
        }, cancellationToken).ConfigureAwait(false);
        if (duplicate)
        {
            return new Outcome(OutcomeKind.Duplicate, call.CallId, null, call.StartTime);
        }

        return new Outcome(OutcomeKind.Processed, call.CallId, null, call.StartTime);
    }

    private static bool Authorized(HttpRequest request, string? secret)
    {
        if (string.IsNullOrEmpty(secret) || secret.Length < 32)
        {
            return false;
        }

        var header = request.Headers.Authorization.ToString();
        if (!header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }

        return CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(header[7..].Trim()), Encoding.UTF8.GetBytes(secret));
    }

    private enum OutcomeKind
    {
        Processed,
        Duplicate,
        Skipped,
    }

    private readonly record struct Outcome(OutcomeKind Kind, string? CallId, string? Reason, DateTimeOffset? At = null)
    {
        public static Outcome Skip(string? callId, string reason) => new(OutcomeKind.Skipped, callId, reason);
    }

    /// <summary>The answer to an ingest post: how many entries were billed, skipped (with why) or already billed.</summary>
    private sealed class IngestResult
    {
        public int Processed { get; set; }

        public int Skipped { get; set; }

        public int Duplicates { get; set; }

        public List<SkippedEntry> SkippedEntries { get; } = [];

        /// <summary>Every entry billed by this post or before it, with the period its record and spend fell in.</summary>
        public List<AcceptedEntry> AcceptedEntries { get; } = [];
    }

    private sealed record SkippedEntry(int Index, string? Id, string Reason);

    /// <summary>
    /// A billed entry (<paramref name="Duplicate"/>: billed by an earlier post) and where it was counted: the record's
    /// <paramref name="Timestamp"/> (the call's start time), its UTC <paramref name="Month"/> (<c>yyyy-MM</c>, the period of
    /// analytics' default and of monthly budgets) and UTC <paramref name="Day"/> (<c>yyyy-MM-dd</c>, as in daily analytics and budgets).
    /// </summary>
    private sealed record AcceptedEntry(int Index, string? Id, bool Duplicate, DateTimeOffset Timestamp, string Month, string Day)
    {
        public static AcceptedEntry Of(int index, string? id, bool duplicate, DateTimeOffset at)
        {
            var utc = at.ToUniversalTime();
            return new AcceptedEntry(index, id, duplicate, utc,
                utc.ToString("yyyy-MM", System.Globalization.CultureInfo.InvariantCulture), utc.ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture));
        }
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Warning, "Ingested entry {Index} (call {CallId}) was skipped: {Reason}.", EventName = "IngestEntrySkipped")]
        public static partial void Skipped(ILogger logger, int index, string? callId, string reason);

        [LoggerMessage(2, LogLevel.Error, "Ingesting entry {Index} failed in a billing store; answered 503 so that the sender retries.", EventName = "IngestStoreUnavailable")]
        public static partial void StoreUnavailable(ILogger logger, Exception exception, int index);
    }
}
