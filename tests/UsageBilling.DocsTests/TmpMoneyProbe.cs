using System.Text;
using Microsoft.Extensions.Configuration;
namespace UsageBilling.DocsTests;
public sealed class TmpMoneyProbe
{
    [Fact]
    public void Probe()
    {
        var json = """{"UsageBilling":{"Alerts":{"LowBalance": 5, "BudgetThresholdsPercent":[75]}}}""";
        var root = new ConfigurationBuilder().AddJsonStream(new MemoryStream(Encoding.UTF8.GetBytes(json))).Build();
        var o = new UsageBillingOptions();
        string result;
        try { root.GetSection("UsageBilling").Bind(o); result = $"bound: {o.Alerts.LowBalance?.ToString() ?? "null"} thresholds {string.Join(",", o.Alerts.BudgetThresholdsPercent)}"; }
        catch (Exception ex) { result = "threw: " + ex.GetType().Name + " " + ex.Message; }
        Assert.Fail(result);
    }
}
