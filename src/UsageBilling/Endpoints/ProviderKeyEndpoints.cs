using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace UsageBilling;

internal sealed record ProviderKeyResponse(string Id, string Provider, string Masked, bool Enabled, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt)
{
    public static ProviderKeyResponse From(ProviderKey key) => new(key.Id, key.Provider, key.Masked, key.Enabled, key.CreatedAt, key.UpdatedAt);
}

internal sealed record SetProviderKeyRequest(string? Key);

internal sealed record EnableProviderKeyRequest(bool? Enabled);

/// <summary>
/// Accounts' own provider keys, for admins (any account) and self-service (the caller's own): list masked, set
/// (add or replace), enable or disable, delete. Neither the key nor its encrypted form is ever returned.
/// </summary>
internal static class ProviderKeyEndpoints
{
    /// <summary>Maps the routes under <paramref name="group"/>; <paramref name="accountOf"/> names the account (null: 404).</summary>
    public static void Map(RouteGroupBuilder group, string prefix, Func<HttpContext, CancellationToken, ValueTask<string?>> accountOf)
    {
        group.MapGet(prefix, async (HttpContext context, ProviderKeyManager keys) =>
            await accountOf(context, context.RequestAborted).ConfigureAwait(false) is { } account
                ? TypedResults.Ok((await keys.ListAsync(account, context.RequestAborted).ConfigureAwait(false)).Select(ProviderKeyResponse.From).ToList())
                : Problems.NotFound("The account"))
            .WithSummary("The account's own provider keys, masked.");

        group.MapPut($"{prefix}/{{provider}}", async (string provider, HttpContext context, ProviderKeyManager keys) =>
            {
                if (await accountOf(context, context.RequestAborted).ConfigureAwait(false) is not { } account)
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
            })
            .WithSummary("Adds or replaces the account's own key for a provider (stored encrypted, enabled).");

        group.MapPatch($"{prefix}/{{provider}}", async (string provider, HttpContext context, ProviderKeyManager keys) =>
            {
                if (await accountOf(context, context.RequestAborted).ConfigureAwait(false) is not { } account)
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
            })
            .WithSummary("Enables or disables the account's own key for a provider.");

        group.MapDelete($"{prefix}/{{provider}}", async (string provider, HttpContext context, ProviderKeyManager keys) =>
            await accountOf(context, context.RequestAborted).ConfigureAwait(false) is not { } account
                ? Problems.NotFound("The account")
                : await keys.DeleteAsync(account, provider, context.RequestAborted).ConfigureAwait(false) ? TypedResults.NoContent() : Problems.NotFound($"A {provider} key"))
            .WithSummary("Deletes the account's own key for a provider.");
    }
}
