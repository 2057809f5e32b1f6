namespace UsageBilling;

/// <summary>Names used by the API-key authentication scheme.</summary>
public static class ApiKeyDefaults
{
    /// <summary>The authentication scheme registered by <c>AddUsageBilling()</c>: <c>ApiKey</c>.</summary>
    public const string AuthenticationScheme = "ApiKey";
}

/// <summary>Claim types on the principal of an API-key caller.</summary>
public static class UsageBillingClaimTypes
{
    /// <summary>The key id.</summary>
    public const string KeyId = "usagebilling:key_id";

    /// <summary>The account id.</summary>
    public const string AccountId = "usagebilling:account_id";

    /// <summary>The account's plan.</summary>
    public const string Plan = "usagebilling:plan";
}
