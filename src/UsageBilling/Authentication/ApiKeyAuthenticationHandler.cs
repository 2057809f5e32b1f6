using System.Security.Claims;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.Net.Http.Headers;

namespace UsageBilling;

/// <summary>
/// Authenticates callers by API key (from <c>Authorization: Bearer</c> or the configured headers) so that
/// <c>[Authorize]</c> and <c>RequireAuthorization()</c> work as with any other scheme.
/// </summary>
internal sealed partial class ApiKeyAuthenticationHandler : AuthenticationHandler<AuthenticationSchemeOptions>
{
    private const string FailureItemKey = "UsageBilling.ApiKeyFailure";
    private const string StoreFailureItemKey = "UsageBilling.ApiKeyStoreFailure";
    private readonly ApiKeyManager _keys;
    private readonly IList<string> _headerNames;
    private readonly UsageBillingMetrics _metrics;

    public ApiKeyAuthenticationHandler(
        IOptionsMonitor<AuthenticationSchemeOptions> options,
        ILoggerFactory logger,
        UrlEncoder encoder,
        ApiKeyManager keys,
        IOptions<UsageBillingOptions> billingOptions,
        UsageBillingMetrics metrics)
        : base(options, logger, encoder)
    {
        _keys = keys;
        _headerNames = billingOptions.Value.Keys.HeaderNames;
        _metrics = metrics;
    }

    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        var presented = ReadKey(Request);
        if (presented is null)
        {
            return AuthenticateResult.NoResult();
        }

        ApiKeyValidation validation;
        try
        {
            validation = await _keys.ValidateAsync(presented, Context.RequestAborted).ConfigureAwait(false);
        }
        catch (Exception ex) when (!Context.RequestAborted.IsCancellationRequested)
        {
            // The key store is down: the caller is told so (503 on challenge), not that the key is wrong.
            Context.Items[StoreFailureItemKey] = true;
            Log.StoreUnavailable(Logger, ex);
            return AuthenticateResult.Fail("The API key store is unavailable.");
        }

        if (validation.Failure is { } failure)
        {
            Context.Items[FailureItemKey] = failure;
            _metrics.KeyRejected(failure);
            // Only the safe display prefix is ever logged, never the key.
            Log.KeyRejected(Logger, failure, presented.Length > _keys.Format.Prefix.Length + ApiKeyFormat.DisplayRandomCharacters
                ? _keys.Format.DisplayPrefix(presented) : "(short)");
            return AuthenticateResult.Fail($"The API key is {failure.ToString().ToLowerInvariant()}.");
        }

        var resolved = validation.Key!;
        var identity = new ClaimsIdentity(Scheme.Name);

        // Claims made with the identity as their subject are added as they are; any other claim is copied.
        AddClaim(identity, UsageBillingClaimTypes.KeyId, resolved.Key.Id);
        AddClaim(identity, UsageBillingClaimTypes.AccountId, resolved.Account.Id);
        AddClaim(identity, UsageBillingClaimTypes.Plan, resolved.Account.Plan);
        AddClaim(identity, ClaimTypes.NameIdentifier, resolved.Account.Id);
        AddClaim(identity, ClaimTypes.Name, resolved.Key.Name);
        Context.Features.Set<IApiKeyFeature>(new ApiKeyFeature(resolved.Key, resolved.Account));
        return AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(identity), Scheme.Name));
    }

    private static void AddClaim(ClaimsIdentity identity, string type, string value)
        => identity.AddClaim(new Claim(type, value, ClaimValueTypes.String, ClaimsIdentity.DefaultIssuer, ClaimsIdentity.DefaultIssuer, identity));

    protected override Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        if (Context.Items.ContainsKey(StoreFailureItemKey))
        {
            Response.Headers.RetryAfter = "5";
            return Problems.WriteAsync(Context, StatusCodes.Status503ServiceUnavailable, ProblemTypes.StoreUnavailable, "Service Unavailable",
                "The API key store could not be reached; nothing was charged and the request was not run. Retry later.");
        }

        var failure = Context.Items.TryGetValue(FailureItemKey, out var value) ? (ApiKeyFailure?)value : null;
        Response.Headers.WWWAuthenticate = failure is null
            ? "Bearer"
            : "Bearer error=\"invalid_token\"";
        var (type, detail) = failure switch
        {
            null => (ProblemTypes.MissingApiKey, "This endpoint needs an API key in the Authorization (Bearer) or X-API-Key header."),
            ApiKeyFailure.Malformed => (ProblemTypes.InvalidApiKey, "The API key is malformed."),
            ApiKeyFailure.Revoked => (ProblemTypes.InvalidApiKey, "The API key has been revoked."),
            ApiKeyFailure.Expired => (ProblemTypes.InvalidApiKey, "The API key has expired."),
            _ => (ProblemTypes.InvalidApiKey, "The API key is not valid."),
        };
        return Problems.WriteAsync(Context, StatusCodes.Status401Unauthorized, type, "Unauthorized", detail);
    }

    protected override Task HandleForbiddenAsync(AuthenticationProperties properties)
        => Problems.WriteAsync(Context, StatusCodes.Status403Forbidden, ProblemTypes.Forbidden, "Forbidden",
            "The API key may not use this endpoint.");

    internal string? ReadKey(HttpRequest request)
    {
        var authorization = request.Headers.Authorization.ToString();
        if (authorization.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            var token = authorization.AsSpan(7).Trim();
            if (!token.IsEmpty)
            {
                return token.ToString();
            }
        }

        foreach (var name in _headerNames)
        {
            var value = request.Headers[name].ToString().Trim();
            if (value.Length > 0)
            {
                return value;
            }
        }

        return null;
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Debug, "API key refused ({Failure}); key starts with {DisplayPrefix}.", EventName = "ApiKeyRefused")]
        public static partial void KeyRejected(ILogger logger, ApiKeyFailure failure, string displayPrefix);

        [LoggerMessage(2, LogLevel.Error, "Looking up an API key failed in the key store; the request is answered 503.", EventName = "ApiKeyStoreUnavailable")]
        public static partial void StoreUnavailable(ILogger logger, Exception exception);
    }
}
