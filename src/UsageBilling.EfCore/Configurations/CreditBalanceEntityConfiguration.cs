using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace UsageBilling.EntityFrameworkCore;

internal sealed class CreditBalanceEntityConfiguration(UsageBillingModelOptions options) : IEntityTypeConfiguration<CreditBalanceEntity>
{
    public void Configure(EntityTypeBuilder<CreditBalanceEntity> builder)
    {
        builder.ToTable(options.TablePrefix + "credit_balances", options.Schema);
        builder.HasKey(b => b.AccountId);
        builder.Property(b => b.AccountId).HasColumnName("account_id");
        builder.Property(b => b.Balance).HasColumnName("balance").HasComment(StoredTime.NanosComment);
        builder.Property(b => b.Reserved).HasColumnName("reserved").HasComment(StoredTime.NanosComment);
    }
}
