using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace UsageBilling.EntityFrameworkCore;

internal sealed class LedgerEntryEntityConfiguration(UsageBillingModelOptions options) : IEntityTypeConfiguration<LedgerEntryEntity>
{
    public void Configure(EntityTypeBuilder<LedgerEntryEntity> builder)
    {
        builder.ToTable(options.TablePrefix + "credit_ledger", options.Schema);
        builder.HasKey(e => e.Sequence);
        builder.Property(e => e.Sequence).HasColumnName("sequence").ValueGeneratedOnAdd();
        builder.Property(e => e.Id).HasColumnName("id").IsRequired();
        builder.Property(e => e.AccountId).HasColumnName("account_id");
        builder.Property(e => e.Kind).HasColumnName("kind").HasComment("0 grant, 1 charge, 2 refund, 3 adjustment.");
        builder.Property(e => e.Amount).HasColumnName("amount").HasComment(StoredTime.NanosComment);
        builder.Property(e => e.BalanceAfter).HasColumnName("balance_after").HasComment(StoredTime.NanosComment);
        builder.Property(e => e.IdempotencyKey).HasColumnName("idempotency_key");
        builder.Property(e => e.ReservationId).HasColumnName("reservation_id");
        builder.Property(e => e.Reference).HasColumnName("reference");
        builder.Property(e => e.Reason).HasColumnName("reason");
        builder.Property(e => e.CreatedAt).HasColumnName("created_at").HasComment(StoredTime.TicksComment);

        builder.HasIndex(e => e.Id).IsUnique();

        // The same idempotency key never moves money twice on one account.
        builder.HasIndex(e => new { e.AccountId, e.IdempotencyKey }).IsUnique();

        // Paging an account's ledger newest first.
        builder.HasIndex(e => new { e.AccountId, e.Sequence });
    }
}
