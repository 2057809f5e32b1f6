using System.Globalization;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace UsageBilling;

/// <summary>The admin API: accounts, credits, ledger, keys and the usage log (mapped by <see cref="UsageBillingEndpointRouteBuilderExtensions.MapUsageBillingAdmin"/>).</summary>
internal static class AdminEndpoints
{
    private const int MaxPageSize = EndpointHelpers.MaxPageSize;

    /// <inheritdoc cref="UsageBillingEndpointRouteBuilderExtensions.MapUsageBillingAdmin"/>
    public static RouteGroupBuilder Map(IEndpointRouteBuilder endpoints, string prefix)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        if (endpoints.ServiceProvider.GetService<UsageBillingMarker>() is null)
        {
            throw new InvalidOperationException("Call 'builder.Services.AddUsageBilling(...)' before mapping the UsageBilling admin endpoints.");
        }

        var group = endpoints.MapGroup(prefix).WithTags(UsageBillingOpenApiConfiguration.AdminTag);
        group.AddEndpointFilter(StoreOutageFilter.InvokeAsync);
        group.ProducesProblems(StatusCodes.Status503ServiceUnavailable);
        group.MapPost("/accounts", CreateAccountAsync)
            .Describe("createAccount", "Creates a billing account with a zero balance.")
            .AcceptsJson<CreateAccountRequest>().ProducesJson<RouteHandlerBuilder, AccountResponse>(StatusCodes.Status201Created)
            .ProducesProblems(StatusCodes.Status400BadRequest, StatusCodes.Status415UnsupportedMediaType);
        group.MapGet("/accounts/{id}", GetAccountAsync)
            .Describe("getAccount", "An account with its balance, held amount and budget.")
            .ProducesJson<RouteHandlerBuilder, AccountResponse>().ProducesProblems(StatusCodes.Status404NotFound);
        group.MapPost("/accounts/{id}/credits", PostCreditsAsync)
            .Describe("postCredits", "Grants, refunds or adjusts credit (once per idempotency key); 200 answers a repeated key with the first entry.")
            .AcceptsJson<PostCreditsRequest>()
            .ProducesJson<RouteHandlerBuilder, LedgerEntryResponse>(StatusCodes.Status201Created).ProducesJson<RouteHandlerBuilder, LedgerEntryResponse>()
            .ProducesProblems(StatusCodes.Status400BadRequest, StatusCodes.Status404NotFound, StatusCodes.Status409Conflict, StatusCodes.Status415UnsupportedMediaType);
        group.MapGet("/accounts/{id}/ledger", GetLedgerAsync)
            .Describe("getLedger", "A page of the account's ledger, newest first.").QueryPageSize(50, "entries per page")
            .ProducesJson<RouteHandlerBuilder, LedgerPageResponse>().ProducesProblems(StatusCodes.Status400BadRequest, StatusCodes.Status404NotFound);
        group.MapPost("/accounts/{id}/keys", CreateKeyAsync)
            .Describe("createApiKey", "Creates an API key for the account; the answer holds the key itself, shown this once.")
            .AcceptsJson<CreateKeyRequest>().ProducesJson<RouteHandlerBuilder, CreatedApiKeyResponse>(StatusCodes.Status201Created)
            .ProducesProblems(StatusCodes.Status400BadRequest, StatusCodes.Status404NotFound, StatusCodes.Status415UnsupportedMediaType);
        group.MapGet("/accounts/{id}/keys", ListKeysAsync)
            .Describe("listApiKeys", "The account's API keys (never the keys themselves).")
            .ProducesJson<RouteHandlerBuilder, List<ApiKeyResponse>>().ProducesProblems(StatusCodes.Status404NotFound);
        group.MapDelete("/keys/{id}", RevokeKeyAsync)
            .Describe("revokeApiKey", "Revokes an API key; later calls with it are refused.")
            .Produces(StatusCodes.Status204NoContent).ProducesProblems(StatusCodes.Status404NotFound);
        group.MapGet("/usage", QueryUsageAsync)
            .Describe("queryUsage", "A page of usage records, filtered by account, key and period [from, to).")
            .QueryPeriod("default: no bound").QueryPageSize(100, "records per page")
            .ProducesJson<RouteHandlerBuilder, UsagePageResponse>().ProducesProblems(StatusCodes.Status400BadRequest);
        group.MapPut("/accounts/{id}/budget", SetAccountBudgetAsync)
            .Describe("setAccountBudget", "Sets the account's daily, weekly and monthly spend caps (absent or null: no cap).")
            .AcceptsJson<SpendBudget>().ProducesJson<RouteHandlerBuilder, AccountResponse>()
            .ProducesProblems(StatusCodes.Status400BadRequest, StatusCodes.Status404NotFound, StatusCodes.Status415UnsupportedMediaType);
        group.MapPatch("/keys/{id}", UpdateKeyAsync)
            .Describe("updateApiKey", "Changes a key's limits and budget (JSON merge patch: a property present replaces, null clears, absent keeps).")
            .AcceptsJson<UpdateKeyRequest>().ProducesJson<RouteHandlerBuilder, ApiKeyResponse>()
            .ProducesProblems(StatusCodes.Status400BadRequest, StatusCodes.Status404NotFound, StatusCodes.Status415UnsupportedMediaType);
        ProviderKeyEndpoints.MapForAdmin(group, "/accounts/{id}/provider-keys");
        AdminAnalyticsEndpoints.Map(group);
        AdminPricingEndpoints.Map(group);
        return group;
    }

    private static async Task<IResult> CreateAccountAsync(HttpContext context, AccountManager accounts, CreditManager credits)
    {
        var (body, error) = await EndpointHelpers.ReadBodyAsync<CreateAccountRequest>(context).ConfigureAwait(false);
        if (error is not null)
        {
            return error;
        }

        if (string.IsNullOrWhiteSpace(body!.Name) || body.Name.Length > 200)
        {
            return Problems.Invalid("name", "A name of 1 to 200 characters is required.");
        }

        if (body.Plan is { } plan && (plan.Length is 0 or > 64 || string.IsNullOrWhiteSpace(plan)))
        {
            return Problems.Invalid("plan", "The plan must be 1 to 64 characters.");
        }

        var account = await accounts.CreateAsync(body.Name.Trim(), body.Plan?.Trim(), context.RequestAborted).ConfigureAwait(false);
        return TypedResults.Created($"{context.Request.PathBase}{context.Request.Path}/{account.Id}", await ToResponseAsync(account, credits, context.RequestAborted).ConfigureAwait(false));
    }

    private static async Task<IResult> GetAccountAsync(string id, AccountManager accounts, CreditManager credits, CancellationToken cancellationToken)
    {
        var account = await accounts.FindAsync(id, cancellationToken).ConfigureAwait(false);
        return account is null ? Problems.NotFound($"Account '{id}'") : TypedResults.Ok(await ToResponseAsync(account, credits, cancellationToken).ConfigureAwait(false));
    }

    private static async Task<IResult> PostCreditsAsync(string id, HttpContext context, AccountManager accounts, CreditManager credits)
    {
        var (body, error) = await EndpointHelpers.ReadBodyAsync<PostCreditsRequest>(context).ConfigureAwait(false);
        if (error is not null)
        {
            return error;
        }

        LedgerEntryKind? kind = body!.Kind?.ToLowerInvariant() switch
        {
            null or "grant" => LedgerEntryKind.Grant,
            "refund" => LedgerEntryKind.Refund,
            "adjustment" => LedgerEntryKind.Adjustment,
            _ => null,
        };
        if (kind is null)
        {
            return Problems.Invalid("kind", "The kind must be 'grant', 'refund' or 'adjustment'.");
        }

        if (body.Amount is not { } amount || amount.IsZero || (kind != LedgerEntryKind.Adjustment && amount.IsNegative))
        {
            return Problems.Invalid("amount", "A non-zero amount is required; grants and refunds must be positive.");
        }

        if (!CreditBalance.IsWithinLimit(Money.Zero, amount))
        {
            return Problems.Invalid("amount", $"The amount must be at most {CreditBalance.MaxBalance} in either direction.");
        }

        if (body.IdempotencyKey is { } key && (key.Length is 0 or > 200 || string.IsNullOrWhiteSpace(key)))
        {
            return Problems.Invalid("idempotencyKey", "The idempotency key must be 1 to 200 characters.");
        }

        if (body.Reason is { Length: > 500 })
        {
            return Problems.Invalid("reason", "The reason must be at most 500 characters.");
        }

        if (await accounts.FindAsync(id, context.RequestAborted).ConfigureAwait(false) is null)
        {
            return Problems.NotFound($"Account '{id}'");
        }

        var result = await credits.PostAsync(id, kind.Value, amount, body.IdempotencyKey, body.Reason, context.RequestAborted).ConfigureAwait(false);
        return result.Status switch
        {
            PostStatus.Posted => TypedResults.Created($"{context.Request.PathBase}/accounts/{id}/ledger", LedgerEntryResponse.From(result.Entry!)),
            PostStatus.Duplicate => TypedResults.Ok(LedgerEntryResponse.From(result.Entry!)),
            PostStatus.LimitExceeded => Problems.Result(StatusCodes.Status409Conflict, ProblemTypes.BalanceLimitExceeded, "Balance Limit Exceeded",
                $"The move would take the account's balance past {CreditBalance.MaxBalance}, the most an account can hold; nothing was posted."),
            _ => Problems.Result(StatusCodes.Status409Conflict, ProblemTypes.InsufficientCredits, "Insufficient Credits",
                "The adjustment would take the account's available balance below zero."),
        };
    }

    private static async Task<IResult> GetLedgerAsync(string id, string? limit, string? cursor, AccountManager accounts, CreditManager credits, CancellationToken cancellationToken)
    {
        if (!EndpointHelpers.TryParseLimit(limit, 50, MaxPageSize, out var pageSize, out var error))
        {
            return error!;
        }

        if (await accounts.FindAsync(id, cancellationToken).ConfigureAwait(false) is null)
        {
            return Problems.NotFound($"Account '{id}'");
        }

        var page = await credits.GetLedgerAsync(id, pageSize, string.IsNullOrEmpty(cursor) ? null : cursor, cancellationToken).ConfigureAwait(false);
        return TypedResults.Ok(new LedgerPageResponse(page.Entries.Select(LedgerEntryResponse.From).ToList(), page.NextCursor));
    }

    private static async Task<IResult> CreateKeyAsync(string id, HttpContext context, AccountManager accounts, ApiKeyManager keys, TimeProvider timeProvider)
    {
        var (body, error) = await EndpointHelpers.ReadBodyAsync<CreateKeyRequest>(context).ConfigureAwait(false);
        if (error is not null)
        {
            return error;
        }

        if (string.IsNullOrWhiteSpace(body!.Name) || body.Name.Length > 200)
        {
            return Problems.Invalid("name", "A name of 1 to 200 characters is required.");
        }

        if (body.ExpiresAt is { } expiresAt && expiresAt <= timeProvider.GetUtcNow())
        {
            return Problems.Invalid("expiresAt", "The expiry must be in the future.");
        }

        if (body.Limits?.All().FirstOrDefault(l => l.Value is < 1) is { Name: not null } bad)
        {
            return Problems.Invalid($"limits.{JsonNamingPolicy.CamelCase.ConvertName(bad.Name)}", "Limits must be at least 1 when set.");
        }

        if (await accounts.FindAsync(id, context.RequestAborted).ConfigureAwait(false) is null)
        {
            return Problems.NotFound($"Account '{id}'");
        }

        var created = await keys.CreateAsync(id, body.Name.Trim(), body.ExpiresAt, body.Limits, context.RequestAborted).ConfigureAwait(false);
        var key = created.Key;
        return TypedResults.Created($"{context.Request.PathBase}{context.Request.Path}/{key.Id}",
            new CreatedApiKeyResponse(key.Id, key.AccountId, key.Name, key.DisplayPrefix, created.Plaintext, key.CreatedAt, key.ExpiresAt, key.Limits));
    }

    private static async Task<IResult> ListKeysAsync(string id, AccountManager accounts, IApiKeyStore keys, CancellationToken cancellationToken)
    {
        if (await accounts.FindAsync(id, cancellationToken).ConfigureAwait(false) is null)
        {
            return Problems.NotFound($"Account '{id}'");
        }

        var list = await keys.ListByAccountAsync(id, cancellationToken).ConfigureAwait(false);
        return TypedResults.Ok(list.Select(ApiKeyResponse.From).ToList());
    }

    private static async Task<IResult> RevokeKeyAsync(string id, ApiKeyManager keys, CancellationToken cancellationToken)
        => await keys.RevokeAsync(id, cancellationToken).ConfigureAwait(false) ? TypedResults.NoContent() : Problems.NotFound($"Key '{id}'");

    private static async Task<IResult> QueryUsageAsync(HttpContext context, IUsageStore usage, string? accountId, string? keyId, string? from, string? to,
        string? limit, string? cursor)
    {
        if (!EndpointHelpers.TryParseTime(from, out var start))
        {
            return Problems.Invalid("from", "Use an ISO 8601 date-time such as 2026-11-01T00:00:00Z.");
        }

        if (!EndpointHelpers.TryParseTime(to, out var end))
        {
            return Problems.Invalid("to", "Use an ISO 8601 date-time such as 2026-12-01T00:00:00Z.");
        }

        if (start is not null && end is not null && start >= end)
        {
            return Problems.Invalid("to", "'to' must be after 'from' (the period is [from, to)).");
        }

        if (!EndpointHelpers.TryParseLimit(limit, 100, MaxPageSize, out var pageSize, out var error))
        {
            return error!;
        }

        try
        {
            _ = UsageCursor.Decode(cursor);
        }
        catch (FormatException)
        {
            return Problems.Invalid("cursor", "The cursor is not valid; use the nextCursor of a previous page.");
        }

        var page = await usage.QueryAsync(new UsageQuery
        {
            AccountId = string.IsNullOrEmpty(accountId) ? null : accountId,
            KeyId = string.IsNullOrEmpty(keyId) ? null : keyId,
            From = start,
            To = end,
            Limit = pageSize,
            Cursor = string.IsNullOrEmpty(cursor) ? null : cursor,
        }, context.RequestAborted).ConfigureAwait(false);
        return TypedResults.Ok(new UsagePageResponse(page.Records, page.NextCursor));
    }

    private static async Task<IResult> SetAccountBudgetAsync(string id, HttpContext context, AccountManager accounts, CreditManager credits)
    {
        var (budget, error) = await EndpointHelpers.ReadBodyAsync<SpendBudget>(context).ConfigureAwait(false);
        if (error is not null)
        {
            return error;
        }

        if (EndpointHelpers.InvalidBudget(budget) is { } invalid)
        {
            return invalid;
        }

        var account = await accounts.SetBudgetAsync(id, budget, context.RequestAborted).ConfigureAwait(false);
        return account is null ? Problems.NotFound($"Account '{id}'") : TypedResults.Ok(await ToResponseAsync(account, credits, context.RequestAborted).ConfigureAwait(false));
    }

    /// <summary>Merge-patch semantics: a property that is present replaces the key's value (<c>null</c> clears it); an absent one keeps it.</summary>
    private static async Task<IResult> UpdateKeyAsync(string id, HttpContext context, ApiKeyManager keys, IApiKeyStore store)
    {
        var (document, error) = await EndpointHelpers.ReadBodyAsync<JsonDocument>(context).ConfigureAwait(false);
        if (error is not null)
        {
            return error;
        }

        using var owned = document!;
        var patch = owned.RootElement;
        if (patch.ValueKind != JsonValueKind.Object)
        {
            return Problems.Invalid("body", "A JSON object is required.");
        }

        var current = await store.FindByIdAsync(id, context.RequestAborted).ConfigureAwait(false);
        if (current is null)
        {
            return Problems.NotFound($"Key '{id}'");
        }

        RequestLimits? limits;
        SpendBudget? budget;
        try
        {
            limits = patch.TryGetProperty("limits", out var l) ? l.Deserialize<RequestLimits>(JsonOptions) : current.Limits;
            budget = patch.TryGetProperty("budget", out var b) ? b.Deserialize<SpendBudget>(JsonOptions) : current.Budget;
        }
        catch (JsonException ex)
        {
            return Problems.Invalid(string.IsNullOrEmpty(ex.Path) || ex.Path == "$" ? "body" : ex.Path.TrimStart('$', '.'), "A value has the wrong type.");
        }

        if (limits?.All().FirstOrDefault(l => l.Value is < 1) is { Name: not null } bad)
        {
            return Problems.Invalid($"limits.{JsonNamingPolicy.CamelCase.ConvertName(bad.Name)}", "Limits must be at least 1 when set.");
        }

        if (EndpointHelpers.InvalidBudget(budget) is { } invalid)
        {
            return invalid;
        }

        var updated = await keys.UpdateAsync(id, limits, budget is { IsEmpty: true } ? null : budget, context.RequestAborted).ConfigureAwait(false);
        return updated is null ? Problems.NotFound($"Key '{id}'") : TypedResults.Ok(ApiKeyResponse.From(updated));
    }

    private static readonly JsonSerializerOptions JsonOptions = new(JsonSerializerDefaults.Web);

    internal static async Task<AccountResponse> ToResponseAsync(BillingAccount account, CreditManager credits, CancellationToken cancellationToken)
    {
        var balance = await credits.GetBalanceAsync(account.Id, cancellationToken).ConfigureAwait(false);
        return new AccountResponse(account.Id, account.Name, account.Plan, account.CreatedAt, balance.Balance, balance.Reserved, balance.Available, account.Budget);
    }
}
