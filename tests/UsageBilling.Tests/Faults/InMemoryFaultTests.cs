
namespace UsageBilling.Tests.Faults;

/// <summary>The fault-injection suite on the in-memory stores.</summary>
public sealed class InMemoryFaultTests : MeteredCallFaultSpecification
{
    protected override void UseBackend(UsageBillingBuilder billing)
    {
    }
}

/// <summary>The fault-injection suite on the in-memory stores, with requests that end before their charge is written.</summary>
public sealed class InMemoryChargeAfterResponseFaultTests : MeteredCallFaultSpecification
{
    protected override bool WaitForCharge => false;

    protected override void UseBackend(UsageBillingBuilder billing)
    {
    }
}
