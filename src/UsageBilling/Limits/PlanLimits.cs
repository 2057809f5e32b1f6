namespace UsageBilling;

/// <summary>A key's effective limits: its plan's defaults with the key's own overrides.</summary>
internal static class PlanLimits
{
    public static RequestLimits For(UsageBillingOptions options, string plan, ApiKeyRecord key)
        => (options.Plans.Limits.TryGetValue(plan, out var limits) ? limits : new RequestLimits()).OverriddenBy(key.Limits);
}
