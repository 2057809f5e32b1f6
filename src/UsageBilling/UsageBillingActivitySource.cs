using System.Diagnostics;

namespace UsageBilling;

/// <summary>
/// UsageBilling's spans, on the activity source <c>UsageBilling</c> (the meter's name): <c>usagebilling.metered_call</c>
/// with its phases <c>usagebilling.quote</c>, <c>usagebilling.admit</c> and <c>usagebilling.complete</c>, and one
/// <c>usagebilling.store.*</c> span per store call. <see cref="ActivitySource.StartActivity(string, ActivityKind)"/>
/// returns null when nobody listens, so a span costs nothing then.
/// </summary>
internal static class UsageBillingActivitySource
{
    public const string Name = UsageBillingMetrics.MeterName;

    public const string MeteredCall = "usagebilling.metered_call";
    public const string Quote = "usagebilling.quote";
    public const string Admit = "usagebilling.admit";
    public const string Complete = "usagebilling.complete";

    public static ActivitySource Source { get; } = new(Name, typeof(UsageBillingActivitySource).Assembly.GetName().Version?.ToString());
}
