using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace UsageBilling;

internal sealed record ProviderKeyResponse(string Id, string Provider, string Masked, bool Enabled, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt)
{
    public static ProviderKeyResponse From(ProviderKey key) => new(key.Id, key.Provider, key.Masked, key.Enabled, key.CreatedAt, key.UpdatedAt);
}

internal sealed record SetProviderKeyRequest(string? Key);

internal sealed record EnableProviderKeyRequest(bool? Enabled);

/// <summary>
/// Accounts' own provider keys, for admins (any account, named by the route's <c>{id}</c>) and self-service (the
/// caller's own): list masked, set (add or replace), enable or disable, delete. Neither the key nor its encrypted form
/// is ever returned.
/// </summary>
internal static class ProviderKeyEndpoints
{
    /// <summary>Maps the admin routes under <paramref name="prefix"/>, which holds the account's <c>{id}</c>.</summary>
    public static void MapForAdmin(RouteGroupBuilder group, string prefix)
    {
        Describe(group.MapGet(prefix, async (string id, HttpContext context, ProviderKeyManager keys) => await ListAsync(await AdminAccountAsync(id, context).ConfigureAwait(false), context, keys).ConfigureAwait(false)),
            "listAccountProviderKeys", Operation.List);
        Describe(group.MapPut($"{prefix}/{{provider}}", async (string id, string provider, HttpContext context, ProviderKeyManager keys) => await SetAsync(await AdminAccountAsync(id, context).ConfigureAwait(false), provider, context, keys).ConfigureAwait(false)),
            "setAccountProviderKey", Operation.Set);
        Describe(group.MapPatch($"{prefix}/{{provider}}", async (string id, string provider, HttpContext context, ProviderKeyManager keys) => await EnableAsync(await AdminAccountAsync(id, context).ConfigureAwait(false), provider, context, keys).ConfigureAwait(false)),
            "enableAccountProviderKey", Operation.Enable);
        Describe(group.MapDelete($"{prefix}/{{provider}}", async (string id, string provider, HttpContext context, ProviderKeyManager keys) => await DeleteAsync(await AdminAccountAsync(id, context).ConfigureAwait(false), provider, context, keys).ConfigureAwait(false)),
            "deleteAccountProviderKey", Operation.Delete);
    }

    /// <summary>Maps the self-service routes under <paramref name="prefix"/>: the account is the calling key's.</summary>
    public static void MapForSelf(RouteGroupBuilder group, string prefix)
    {
        Describe(group.MapGet(prefix, (HttpContext context, ProviderKeyManager keys) => ListAsync(SelfAccount(context), context, keys)), "listOwnProviderKeys", Operation.List);
        Describe(group.MapPut($"{prefix}/{{provider}}", (string provider, HttpContext context, ProviderKeyManager keys) => SetAsync(SelfAccount(context), provider, context, keys)),
            "setOwnProviderKey", Operation.Set);
        Describe(group.MapPatch($"{prefix}/{{provider}}", (string provider, HttpContext context, ProviderKeyManager keys) => EnableAsync(SelfAccount(context), provider, context, keys)),
            "enableOwnProviderKey", Operation.Enable);
        Describe(group.MapDelete($"{prefix}/{{provider}}", (string provider, HttpContext context, ProviderKeyManager keys) => DeleteAsync(SelfAccount(context), provider, context, keys)),
            "deleteOwnProviderKey", Operation.Delete);
    }

    private enum Operation
    {
        List,
        Set,
        Enable,
        Delete,
    }

    private static void Describe(RouteHandlerBuilder builder, string operationId, Operation operation)
    {
        _ = operation switch
        {
            Operation.List => builder.Describe(operationId, "The account's own provider keys, masked.")
                .ProducesJson<RouteHandlerBuilder, List<ProviderKeyResponse>>().ProducesProblems(StatusCodes.Status404NotFound),
            Operation.Set => builder.Describe(operationId, "Adds or replaces the account's own key for a provider (stored encrypted, enabled).")
                .AcceptsJson<SetProviderKeyRequest>().ProducesJson<RouteHandlerBuilder, ProviderKeyResponse>()
                .ProducesProblems(StatusCodes.Status400BadRequest, StatusCodes.Status404NotFound, StatusCodes.Status415UnsupportedMediaType),
            Operation.Enable => builder.Describe(operationId, "Enables or disables the account's own key for a provider.")
                .AcceptsJson<EnableProviderKeyRequest>().ProducesJson<RouteHandlerBuilder, ProviderKeyResponse>()
                .ProducesProblems(StatusCodes.Status400BadRequest, StatusCodes.Status404NotFound, StatusCodes.Status415UnsupportedMediaType),
            _ => builder.Describe(operationId, "Deletes the account's own key for a provider.")
                .Produces(StatusCodes.Status204NoContent).ProducesProblems(StatusCodes.Status404NotFound),
        };
    }

    private static async ValueTask<string?> AdminAccountAsync(string id, HttpContext context)
    {
        var accounts = context.RequestServices.GetRequiredService<IAccountStore>();
        return await accounts.FindAsync(id, context.RequestAborted).ConfigureAwait(false) is not null ? id : null;
    }

    private static string SelfAccount(HttpContext context)
        => (context.Features.Get<IApiKeyFeature>()
            ?? throw new InvalidOperationException("The self-service endpoints need the ApiKey scheme to have authenticated the request.")).Account.Id;

    private static async Task<IResult> ListAsync(string? account, HttpContext context, ProviderKeyManager keys)
        => account is not null
            ? TypedResults.Ok((await keys.ListAsync(account, context.RequestAborted).ConfigureAwait(false)).Select(ProviderKeyResponse.From).ToList())
            : Problems.NotFound("The account");

    private static async Task<IResult> SetAsync(string? account, string provider, HttpContext context, ProviderKeyManager keys)
    {
        if (account is null)
        {
            return Problems.NotFound("The account");
        }

        var (body, error) = await EndpointHelpers.ReadBodyAsync<SetProviderKeyRequest>(context).ConfigureAwait(false);
        if (error is not null)
        {
            return error;
        }

        var normalized = ProviderKeyManager.NormalizeProvider(provider);
        if (normalized is null)
        {
            return Problems.Invalid("provider", "The provider name must be 1 to 32 letters, digits or '-'.");
        }

        if (body!.Key is null)
        {
            return Problems.Invalid("key", "The key is required.");
        }

        if (!ProviderKeyManager.IsPlausible(normalized, body.Key, out var reason))
        {
            return Problems.Invalid("key", reason!);
        }

        var stored = await keys.SetAsync(account, normalized, body.Key, context.RequestAborted).ConfigureAwait(false);
        return TypedResults.Ok(ProviderKeyResponse.From(stored));
    }

    private static async Task<IResult> EnableAsync(string? account, string provider, HttpContext context, ProviderKeyManager keys)
    {
        if (account is null)
        {
            return Problems.NotFound("The account");
        }

        var (body, error) = await EndpointHelpers.ReadBodyAsync<EnableProviderKeyRequest>(context).ConfigureAwait(false);
        if (error is not null)
        {
            return error;
        }

        if (body!.Enabled is not { } enabled)
        {
            return Problems.Invalid("enabled", "Send { \"enabled\": true } or { \"enabled\": false }.");
        }

        return await keys.SetEnabledAsync(account, provider, enabled, context.RequestAborted).ConfigureAwait(false)
            ? TypedResults.Ok(ProviderKeyResponse.From((await keys.ListAsync(account, context.RequestAborted).ConfigureAwait(false)).Single(k => k.Provider == ProviderKeyManager.NormalizeProvider(provider))))
            : Problems.NotFound($"A {provider} key");
    }

    private static async Task<IResult> DeleteAsync(string? account, string provider, HttpContext context, ProviderKeyManager keys)
        => account is null
            ? Problems.NotFound("The account")
            : await keys.DeleteAsync(account, provider, context.RequestAborted).ConfigureAwait(false) ? TypedResults.NoContent() : Problems.NotFound($"A {provider} key");
}
