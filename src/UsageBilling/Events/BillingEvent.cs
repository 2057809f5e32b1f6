namespace UsageBilling;

/// <summary>Something an account owner or operator should hear about. Each is raised once per threshold per period.</summary>
public sealed record BillingEvent
{
    /// <summary>A unique id, stable across delivery retries.</summary>
    public required string Id { get; init; }

    /// <summary>What happened: <see cref="BillingEventTypes.BudgetThreshold"/> or <see cref="BillingEventTypes.LowBalance"/>.</summary>
    public required string Type { get; init; }

    /// <summary>When it happened.</summary>
    public required DateTimeOffset OccurredAt { get; init; }

    /// <summary>The account concerned.</summary>
    public required string AccountId { get; init; }

    /// <summary>The key concerned, for a key budget.</summary>
    public string? KeyId { get; init; }

    /// <summary>The budget, for example <c>account.monthly</c>.</summary>
    public string? Budget { get; init; }

    /// <summary>The threshold crossed, in percent of the budget.</summary>
    public int? ThresholdPercent { get; init; }

    /// <summary>The budget's cap.</summary>
    public Money? Cap { get; init; }

    /// <summary>What the period has spent.</summary>
    public Money? Spent { get; init; }

    /// <summary>When the budget period ends.</summary>
    public DateTimeOffset? PeriodEndsAt { get; init; }

    /// <summary>The available balance, for a low-balance event.</summary>
    public Money? Available { get; init; }
}

/// <summary>The values of <see cref="BillingEvent.Type"/>.</summary>
public static class BillingEventTypes
{
    /// <summary>A budget's spend crossed one of <see cref="AlertOptions.BudgetThresholdsPercent"/>.</summary>
    public const string BudgetThreshold = "budget.threshold";

    /// <summary>An account's available balance fell below <see cref="AlertOptions.LowBalance"/> (once per UTC month).</summary>
    public const string LowBalance = "balance.low";
}

/// <summary>Receives billing events (a pluggable notifier). Register any number; each is called off the request path, and its failures never affect requests.</summary>
public interface IBillingNotifier
{
    /// <summary>Handles one event.</summary>
    ValueTask NotifyAsync(BillingEvent billingEvent, CancellationToken cancellationToken);
}

/// <summary>Alert thresholds.</summary>
public sealed class AlertOptions
{
    /// <summary>Budget thresholds in percent of the cap, each raised once per budget period. Default 50, 80, 100.</summary>
    public IList<int> BudgetThresholdsPercent { get; } = [];

    /// <summary>Raise <see cref="BillingEventTypes.LowBalance"/> when an account's available balance falls below this (once per UTC month); none when not set.</summary>
    public Money? LowBalance { get; set; }

    private static readonly int[] DefaultThresholds = [50, 80, 100];

    internal IReadOnlyList<int> EffectiveThresholds => BudgetThresholdsPercent.Count == 0 ? DefaultThresholds : BudgetThresholdsPercent.Distinct().Order().ToList();
}
