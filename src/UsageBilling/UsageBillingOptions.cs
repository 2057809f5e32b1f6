namespace UsageBilling;

/// <summary>Options for UsageBilling. Bind from configuration (section <c>UsageBilling</c>) or set in code; validated at start-up.</summary>
public sealed class UsageBillingOptions
{
    /// <summary>API key format, hashing, and lookup caching.</summary>
    public ApiKeyOptions Keys { get; } = new();

    /// <summary>Reservations and their expiry.</summary>
    public CreditOptions Credits { get; } = new();

    /// <summary>Plans and their default limits.</summary>
    public PlanOptions Plans { get; } = new();

    /// <summary>Named flat prices.</summary>
    public PricingOptions Pricing { get; } = new();

    /// <summary>The asynchronous usage log.</summary>
    public UsageLogOptions UsageLog { get; } = new();

    /// <summary>LLM token metering.</summary>
    public LlmOptions Llm { get; } = new();

    /// <summary>Budget and balance alerts.</summary>
    public AlertOptions Alerts { get; } = new();

    /// <summary>Usage reported by another gateway (LiteLLM).</summary>
    public IngestOptions Ingest { get; } = new();

    /// <summary>How calls with an <c>Idempotency-Key</c> are replayed.</summary>
    public IdempotencyOptions Idempotency { get; } = new();

    /// <summary>
    /// Decides from the response status code whether a served request is charged. Default: status codes below 400.
    /// A request that is not charged has its hold released.
    /// </summary>
    public Func<int, bool> IsBillableStatusCode { get; set; } = static status => status < 400;
}

/// <summary>API key options.</summary>
public sealed class ApiKeyOptions
{
    /// <summary>The prefix every key starts with, for example <c>sk-acme-</c>. 2 to 16 characters of letters, digits, <c>-</c> and <c>_</c>. Default <c>sk-</c>.</summary>
    public string Prefix { get; set; } = "sk-";

    /// <summary>
    /// An optional secret (at least 32 characters) mixed into key hashes with HMAC-SHA256. Without one, keys are
    /// hashed with plain SHA-256, which is safe because keys carry 190 random bits. Changing it invalidates every key.
    /// </summary>
    public string? Pepper { get; set; }

    /// <summary>Headers read for a key besides <c>Authorization: Bearer</c>. Default <c>X-API-Key</c> (header names are case-insensitive).</summary>
    public IList<string> HeaderNames { get; } = ["X-API-Key"];

    /// <summary>
    /// How long a key lookup is cached, and an account's own provider key for LLM calls; a revocation (or a provider key
    /// disabled, replaced or deleted) made on another instance is seen within this time. Default 30 s; 0 disables caching.
    /// </summary>
    public TimeSpan CacheDuration { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How long a well-formed but unknown key is remembered as unknown, and an account without its own provider key as without one. Default 5 s.</summary>
    public TimeSpan NegativeCacheDuration { get; set; } = TimeSpan.FromSeconds(5);
}

/// <summary>Credit reservation options.</summary>
public sealed class CreditOptions
{
    /// <summary>How long a reservation holds credit before the sweeper may release it. Default 10 minutes.</summary>
    public TimeSpan ReservationTimeout { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>How often the sweeper looks for expired reservations. Default 30 s.</summary>
    public TimeSpan SweepInterval { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>The most reservations the sweeper expires in one store call. Default 500.</summary>
    public int SweepBatchSize { get; set; } = 500;

    /// <summary>
    /// Whether a metered call's request ends only after its charge (or release) and its usage record are committed.
    /// Default <see langword="true"/>: no response is complete before its charge is in the ledger, and the response is
    /// held until then even when the endpoint flushes it (not a <c>text/event-stream</c> or <c>application/x-ndjson</c>
    /// stream, nor a body over 1 MiB, which are sent as written). With
    /// <see langword="false"/> the request ends as soon as the charge is queued for the next group commit (the
    /// response kept for <c>Idempotency-Key</c> replays is still stored first), which raises throughput on a database
    /// store; in exchange a process crash loses the charges queued or being written at that moment — at most 512 calls,
    /// beyond which requests wait again — and the sweeper releases their holds when they expire: those calls are free.
    /// </summary>
    public bool WaitForCharge { get; set; } = true;
}

/// <summary>
/// Replays of metered calls sent with an <c>Idempotency-Key</c>. A completed call's response (status, content type and
/// body) is kept in the app's <c>IDistributedCache</c> and replayed, with <c>Idempotent-Replayed: true</c>, to a retry
/// with the same key and the same request; the endpoint does not run again. Register a shared distributed cache
/// (Redis, SQL Server, PostgreSQL…) when several instances serve one API.
/// </summary>
public sealed class IdempotencyOptions
{
    /// <summary>The largest response body kept for replay; a larger or streamed response is answered with 409 and its outcome instead. Default 1 MiB.</summary>
    public int MaxResponseBytes { get; set; } = 1024 * 1024;

    /// <summary>How long a completed call's response is kept for replay. Default 24 hours.</summary>
    public TimeSpan ReplayFor { get; set; } = TimeSpan.FromHours(24);
}

/// <summary>Plans: each names default limits for the keys of accounts on it.</summary>
public sealed class PlanOptions
{
    /// <summary>The plan a new account gets when none is given. Default <c>default</c>.</summary>
    public string DefaultPlan { get; set; } = "default";

    /// <summary>Limits by plan name (case-insensitive). An account whose plan is not listed has no default limits.</summary>
    public IDictionary<string, RequestLimits> Limits { get; } = new Dictionary<string, RequestLimits>(StringComparer.OrdinalIgnoreCase);

    /// <summary>
    /// The LLM models each plan may use, by plan name (case-insensitive), as listed in the price catalog (aliases,
    /// provider prefixes and dated snapshots resolve first). A plan not listed here may use every priced model; a call
    /// for a model outside its plan's list is refused with 403.
    /// </summary>
    public IDictionary<string, IList<string>> Models { get; } = new Dictionary<string, IList<string>>(StringComparer.OrdinalIgnoreCase);

    /// <summary>Whether <paramref name="plan"/> may use <paramref name="model"/> (a canonical catalog name).</summary>
    public bool Allows(string plan, string model)
        => !Models.TryGetValue(plan, out var models) || models.Any(m => string.Equals(m.Trim(), model, StringComparison.OrdinalIgnoreCase));
}

/// <summary>Pricing options.</summary>
public sealed class PricingOptions
{
    /// <summary>Flat per-call prices in currency units, by name (case-insensitive), used by <c>.WithPrice("name")</c>.</summary>
    public IDictionary<string, decimal> Endpoints { get; } = new Dictionary<string, decimal>(StringComparer.OrdinalIgnoreCase);

    /// <summary>Token prices by model. A model may be listed several times with different <see cref="ModelPriceOptions.EffectiveFrom"/> dates.</summary>
    public IList<ModelPriceOptions> Models { get; } = [];

    /// <summary>
    /// A JSON price file (<c>{ "models": [ { "model", "input", "output", "cachedInput"?, "requestFee"?, "effectiveFrom"?, "aliases"? } ], "aliases": { "name": "model" } }</c>),
    /// read at start-up and again whenever it changes (checked at most every 5 s); its entries add to <see cref="Models"/>.
    /// A file that breaks after start-up keeps its last good prices (and logs an error). Relative paths are from the content root.
    /// </summary>
    public string? ModelPriceFile { get; set; }

    /// <summary>
    /// LiteLLM's <c>model_prices_and_context_window.json</c> (or a copy of it): a maintained catalogue of provider
    /// prices, read at start-up and again whenever it changes. Its prices apply only to models the operator does not
    /// price (in <see cref="Models"/>, <see cref="ModelPriceFile"/> or the admin API): the operator's prices win. A model
    /// whose catalogue price changed or disappeared is logged and counted (<c>usagebilling.pricing.catalog_changes</c>).
    /// Relative paths are from the content root.
    /// </summary>
    public string? LiteLlmCatalogFile { get; set; }

    /// <summary>
    /// An <c>http</c> or <c>https</c> URL of LiteLLM's <c>model_prices_and_context_window.json</c>, fetched when the app
    /// starts and every <see cref="LiteLlmCatalogRefresh"/> through the <c>IHttpClientFactory</c> client named
    /// <c>UsageBilling.LiteLlmCatalog</c>. Its prices apply as <see cref="LiteLlmCatalogFile"/>'s do (the operator's win);
    /// a fetch that fails or is not a catalogue logs a warning, keeps the last good prices and is tried again at the next
    /// interval. Set this or <see cref="LiteLlmCatalogFile"/>, not both.
    /// </summary>
    public string? LiteLlmCatalogUrl { get; set; }

    /// <summary>How often <see cref="LiteLlmCatalogUrl"/> is fetched again (default 6 hours, at least 1 minute).</summary>
    public TimeSpan LiteLlmCatalogRefresh { get; set; } = TimeSpan.FromHours(6);

    /// <summary>Model aliases (case-insensitive): alias → listed model name.</summary>
    public IDictionary<string, string> ModelAliases { get; } = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);

    /// <summary>Markup on token prices by plan, in percent (for example <c>pro: 40</c> charges 140 % of the listed price). Plans not listed: 0.</summary>
    public IDictionary<string, decimal> PlanMarkupPercent { get; } = new Dictionary<string, decimal>(StringComparer.OrdinalIgnoreCase);

    /// <summary>
    /// Per-request price multipliers ("power levels") a caller picks with the <see cref="MultiplierHeader"/> header,
    /// by name (case-insensitive), for example <c>eco: 0.1</c>, <c>balanced: 0.25</c>, <c>precision: 1</c>. They apply on
    /// top of the price (after the plan markup) of flat-priced and LLM calls. A request without the header pays 1×;
    /// an unknown level is refused with 400.
    /// </summary>
    public IDictionary<string, decimal> Multipliers { get; } = new Dictionary<string, decimal>(StringComparer.OrdinalIgnoreCase);

    /// <summary>The request header that picks a <see cref="Multipliers"/> level. Default <c>X-Power-Level</c>.</summary>
    public string MultiplierHeader { get; set; } = "X-Power-Level";

    /// <summary>What to do with a model that has no price. Default <see cref="UnknownModelPolicy.Reject"/>.</summary>
    public UnknownModelPolicy UnknownModel { get; set; } = UnknownModelPolicy.Reject;

    /// <summary>The price used for unknown models under <see cref="UnknownModelPolicy.DefaultPrice"/>.</summary>
    public ModelPriceOptions? DefaultModelPrice { get; set; }
}

/// <summary>LLM metering options.</summary>
public sealed class LlmOptions
{
    /// <summary>The output tokens reserved when a request sets no maximum. Default 4,096.</summary>
    public int DefaultMaxOutputTokens { get; set; } = 4096;

    /// <summary>The tokenizer encoding for models not matched by <see cref="EncodingByModelPrefix"/>: <c>o200k_base</c> (default) or <c>cl100k_base</c>.</summary>
    public string DefaultEncoding { get; set; } = "o200k_base";

    /// <summary>Tokenizer encodings by model-name prefix (longest prefix wins).</summary>
    public IDictionary<string, string> EncodingByModelPrefix { get; } = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase)
    {
        ["gpt-4o"] = "o200k_base",
        ["gpt-4.1"] = "o200k_base",
        ["gpt-4.5"] = "o200k_base",
        ["gpt-5"] = "o200k_base",
        ["o1"] = "o200k_base",
        ["o3"] = "o200k_base",
        ["o4"] = "o200k_base",
        ["gpt-4"] = "cl100k_base",
        ["gpt-3.5"] = "cl100k_base",
        ["text-embedding"] = "cl100k_base",
    };

    /// <summary>Whether cached input tokens count towards <see cref="RequestLimits.TokensPerMinute"/>. Default <see langword="true"/>.</summary>
    public bool CountCachedTokensInRateLimit { get; set; } = true;

    /// <summary>The most bytes of a non-streamed JSON response kept to read its usage. Default 8 MiB; beyond it, output is estimated.</summary>
    public int MaxJsonResponseBytes { get; set; } = 8 * 1024 * 1024;

    /// <summary>What a call made with the account's own provider key costs instead of token prices (see <see cref="IProviderKeyFeature"/>). Default zero.</summary>
    public Money OwnProviderKeyFee { get; set; }

    /// <summary>The largest request body parsed for pricing. Default 16 MiB; larger requests get 413.</summary>
    public int MaxRequestBytes { get; set; } = 16 * 1024 * 1024;

    /// <summary>
    /// The most characters of one request (or one response) counted with the tokenizer. Beyond it the estimate is the
    /// UTF-8 byte length of the rest, which is never below the token count, so pricing work per request stays bounded.
    /// Default 1,048,576; at least 1.
    /// </summary>
    public int MaxCountedCharacters { get; set; } = 1024 * 1024;
}

/// <summary>Usage log options.</summary>
public sealed class UsageLogOptions
{
    /// <summary>
    /// How many records may wait in memory. When full, a request waits up to <see cref="MaxEnqueueWait"/> for room,
    /// then its record is dropped (logged as an error and counted in <c>usagebilling.usage_log.dropped</c>). Default 10,000.
    /// </summary>
    public int QueueCapacity { get; set; } = 10_000;

    /// <summary>
    /// The longest a request waits for room in a full queue before its record is dropped, so that a slow or failing
    /// usage store can never hold up metered requests. Zero drops at once; at most 1 minute. Default 250 ms.
    /// </summary>
    public TimeSpan MaxEnqueueWait { get; set; } = TimeSpan.FromMilliseconds(250);

    /// <summary>The most records written in one store call; as many queued are written at once. Default 500.</summary>
    public int BatchSize { get; set; } = 500;

    /// <summary>How long a partial batch (fewer than <see cref="BatchSize"/> records queued) may wait before it is written. Default 1 s.</summary>
    public TimeSpan FlushInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>The longest wait between retries when the store fails. Default 30 s.</summary>
    public TimeSpan MaxRetryDelay { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>The most records the in-memory usage store keeps; older ones are dropped. Default 100,000. Other stores ignore it.</summary>
    public int InMemoryCapacity { get; set; } = 100_000;

    /// <summary>
    /// How many times a batch is tried (with backoff) before it is split in halves to find the records the store
    /// refuses. A record the store refuses alone, while the store is otherwise reachable, is dead-lettered; while the
    /// store is unreachable, nothing is dead-lettered and the batch is retried until it lands. At least 1. Default 3.
    /// </summary>
    public int MaxBatchAttempts { get; set; } = 3;

    /// <summary>
    /// A directory where dead-lettered records are appended as JSON lines (<c>usage-dead-letters.jsonl</c>), one
    /// object per record with the time, the error type and the record. <see langword="null"/> (the default) keeps
    /// them only in memory (the last 1,000) and in the error log.
    /// </summary>
    public string? DeadLetterDirectory { get; set; }
}
