using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace UsageBilling.EntityFrameworkCore;

internal sealed class CreditReservationEntityConfiguration(UsageBillingModelOptions options) : IEntityTypeConfiguration<CreditReservationEntity>
{
    public void Configure(EntityTypeBuilder<CreditReservationEntity> builder)
    {
        builder.ToTable(options.TablePrefix + "credit_reservations", options.Schema);
        builder.HasKey(r => r.Id);
        builder.Property(r => r.Id).HasColumnName("id");
        builder.Property(r => r.AccountId).HasColumnName("account_id");
        builder.Property(r => r.Amount).HasColumnName("amount").HasComment(StoredTime.NanosComment);
        builder.Property(r => r.IdempotencyKey).HasColumnName("idempotency_key");
        builder.Property(r => r.Reference).HasColumnName("reference");
        builder.Property(r => r.State).HasColumnName("state").HasComment("0 active, 1 settled, 2 released, 3 expired.");
        builder.Property(r => r.CreatedAt).HasColumnName("created_at").HasComment(StoredTime.TicksComment);
        builder.Property(r => r.ExpiresAt).HasColumnName("expires_at").HasComment(StoredTime.TicksComment);
        builder.Property(r => r.SettledAmount).HasColumnName("settled_amount").HasComment(StoredTime.NanosComment);

        // One hold per idempotency key and account: a concurrent duplicate insert finds this index, never a second row.
        builder.HasIndex(r => new { r.AccountId, r.IdempotencyKey }).IsUnique();

        // The sweeper looks for active holds that are due.
        builder.HasIndex(r => r.ExpiresAt).HasFilter("\"state\" = 0");
    }
}
