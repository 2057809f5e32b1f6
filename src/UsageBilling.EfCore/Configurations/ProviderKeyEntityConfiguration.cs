using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace UsageBilling.EntityFrameworkCore;

internal sealed class ProviderKeyEntityConfiguration(UsageBillingModelOptions options) : IEntityTypeConfiguration<ProviderKeyEntity>
{
    public void Configure(EntityTypeBuilder<ProviderKeyEntity> builder)
    {
        builder.ToTable(options.TablePrefix + "provider_keys", options.Schema);
        builder.HasKey(k => k.Id);
        builder.Property(k => k.Id).HasColumnName("id");
        builder.Property(k => k.AccountId).HasColumnName("account_id");
        builder.Property(k => k.Provider).HasColumnName("provider");
        builder.Property(k => k.ProtectedKey).HasColumnName("protected_key").HasComment("The Data Protection payload of the key; never the key itself.");
        builder.Property(k => k.Masked).HasColumnName("masked");
        builder.Property(k => k.Enabled).HasColumnName("enabled");
        builder.Property(k => k.CreatedAt).HasColumnName("created_at").HasComment(StoredTime.TicksComment);
        builder.Property(k => k.UpdatedAt).HasColumnName("updated_at").HasComment(StoredTime.TicksComment);

        // One key per provider per account: an upsert on this index replaces the account's key for the provider.
        builder.HasIndex(k => new { k.AccountId, k.Provider }).IsUnique();
    }
}
