
namespace UsageBilling.Tests.Faults;

/// <summary>The fault-injection suite on the in-memory stores.</summary>
public sealed class InMemoryFaultTests : MeteredCallFaultSpecification
{
    protected override void UseBackend(UsageBillingBuilder billing)
    {
    }
}
