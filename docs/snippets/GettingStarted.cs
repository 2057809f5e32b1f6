using UsageBilling;

namespace DocsSnippets;

internal static class GettingStarted
{
    // <snippet:getting-started-seed>
    public static async Task<string> CreateCustomerAsync(IServiceProvider services)
    {
        var accounts = services.GetRequiredService<AccountManager>();
        var credits = services.GetRequiredService<CreditManager>();
        var keys = services.GetRequiredService<ApiKeyManager>();

        BillingAccount account = await accounts.CreateAsync("Acme", plan: "free");

        // Idempotent: posting "acme-welcome" again returns the first entry and moves no money.
        await credits.PostAsync(account.Id, LedgerEntryKind.Grant, Money.FromUnits(10m),
            idempotencyKey: "acme-welcome", reason: "Welcome credit");

        CreatedApiKey created = await keys.CreateAsync(account.Id, "laptop",
            expiresAt: DateTimeOffset.UtcNow.AddDays(90),
            limits: new RequestLimits { RequestsPerMinute = 30 });   // overrides the plan's value for this key

        return created.Plaintext;   // show it once; only its hash is stored
    }
    // </snippet:getting-started-seed>
}
