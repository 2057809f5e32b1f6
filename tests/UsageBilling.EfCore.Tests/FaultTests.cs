using Microsoft.Extensions.DependencyInjection;
using UsageBilling.Tests.Faults;

namespace UsageBilling.EntityFrameworkCore.Tests;

/// <summary>The fault-injection suite on SQLite.</summary>
public sealed class SqliteFaultTests(SqliteTestDatabase database) : MeteredCallFaultSpecification, IClassFixture<SqliteTestDatabase>
{
    protected override void UseBackend(UsageBillingBuilder billing) => billing.UseEntityFrameworkCore(database.Configure);
}

/// <summary>The fault-injection suite on SQLite, with requests that end before their charge is written.</summary>
public sealed class SqliteChargeAfterResponseFaultTests(SqliteTestDatabase database) : MeteredCallFaultSpecification, IClassFixture<SqliteTestDatabase>
{
    protected override bool WaitForCharge => false;

    protected override void UseBackend(UsageBillingBuilder billing) => billing.UseEntityFrameworkCore(database.Configure);
}

/// <summary>The fault-injection suite on PostgreSQL (skipped, with the reason, without a server).</summary>
public sealed class PostgresFaultTests(PostgresTestDatabase database) : MeteredCallFaultSpecification, IClassFixture<PostgresTestDatabase>
{
    protected override string? SkipReason => database.SkipReason;

    protected override void UseBackend(UsageBillingBuilder billing) => billing.UseEntityFrameworkCore(database.Configure);
}
