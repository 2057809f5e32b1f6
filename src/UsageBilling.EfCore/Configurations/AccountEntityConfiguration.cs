using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace UsageBilling.EntityFrameworkCore;

internal sealed class AccountEntityConfiguration(UsageBillingModelOptions options) : IEntityTypeConfiguration<AccountEntity>
{
    public void Configure(EntityTypeBuilder<AccountEntity> builder)
    {
        builder.ToTable(options.TablePrefix + "accounts", options.Schema);
        builder.HasKey(a => a.Id);
        builder.Property(a => a.Id).HasColumnName("id");
        builder.Property(a => a.Name).HasColumnName("name");
        builder.Property(a => a.Plan).HasColumnName("plan");
        builder.Property(a => a.CreatedAt).HasColumnName("created_at").HasComment(StoredTime.TicksComment);
        builder.Property(a => a.Budget).HasColumnName("budget").HasComment("The account's spend caps as JSON, or NULL.");
    }
}
