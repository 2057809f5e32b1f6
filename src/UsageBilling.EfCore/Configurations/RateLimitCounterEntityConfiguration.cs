using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace UsageBilling.EntityFrameworkCore;

internal sealed class RateLimitCounterEntityConfiguration(UsageBillingModelOptions options) : IEntityTypeConfiguration<RateLimitCounterEntity>
{
    public void Configure(EntityTypeBuilder<RateLimitCounterEntity> builder)
    {
        builder.ToTable(options.TablePrefix + "rate_limit_counters", options.Schema);
        builder.HasKey(c => c.Key);
        builder.Property(c => c.Key).HasColumnName("key");
        builder.Property(c => c.Value).HasColumnName("value");
        builder.Property(c => c.ExpiresAt).HasColumnName("expires_at").HasComment(StoredTime.TicksComment);

        // Expired counters are deleted in batches.
        builder.HasIndex(c => c.ExpiresAt);
    }
}
