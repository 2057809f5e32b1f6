namespace UsageBilling;

/// <summary>The API key and account of the current request, set by the API-key authentication scheme.</summary>
public interface IApiKeyFeature
{
    /// <summary>The key the caller presented (no plaintext).</summary>
    ApiKeyRecord Key { get; }

    /// <summary>The account that owns the key.</summary>
    BillingAccount Account { get; }
}

internal sealed record ApiKeyFeature(ApiKeyRecord Key, BillingAccount Account) : IApiKeyFeature;
