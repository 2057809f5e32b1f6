using Xunit;

namespace UsageBilling.Testing;

/// <summary>What the money specifications share: fresh ids, granting credit to a new account, and a new call's hold.</summary>
internal static class SpecificationCredits
{
    /// <summary>A fresh id, so that tests sharing one database never meet.</summary>
    public static string NewId(string prefix) => prefix + "_" + Guid.NewGuid().ToString("N");

    /// <summary>Grants <paramref name="amount"/> units to <paramref name="account"/> through the credit store, and checks it was posted.</summary>
    public static async Task GrantAsync(ICreditStore credits, string account, decimal amount, DateTimeOffset at)
        => Assert.Equal(PostStatus.Posted, (await credits.PostAsync(new LedgerPostRequest
        {
            EntryId = NewId("led"),
            AccountId = account,
            Kind = LedgerEntryKind.Grant,
            Amount = Money.FromUnits(amount),
            IdempotencyKey = NewId("grant"),
            CreatedAt = at,
        })).Status);

    /// <summary>A new call's hold of <paramref name="amount"/> units on <paramref name="account"/>: a fresh reservation id, its request key, five minutes to live.</summary>
    public static CreditReservationRequest NewHold(string account, decimal amount, DateTimeOffset at)
    {
        var id = NewId("res");
        return new CreditReservationRequest
        {
            ReservationId = id,
            AccountId = account,
            Amount = Money.FromUnits(amount),
            IdempotencyKey = "req:" + id,
            CreatedAt = at,
            ExpiresAt = at.AddMinutes(5),
        };
    }
}
