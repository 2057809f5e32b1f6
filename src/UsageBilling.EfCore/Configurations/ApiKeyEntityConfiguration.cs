using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace UsageBilling.EntityFrameworkCore;

internal sealed class ApiKeyEntityConfiguration(UsageBillingModelOptions options) : IEntityTypeConfiguration<ApiKeyEntity>
{
    public void Configure(EntityTypeBuilder<ApiKeyEntity> builder)
    {
        builder.ToTable(options.TablePrefix + "api_keys", options.Schema);
        builder.HasKey(k => k.Id);
        builder.Property(k => k.Id).HasColumnName("id");
        builder.Property(k => k.AccountId).HasColumnName("account_id");
        builder.Property(k => k.Name).HasColumnName("name");
        builder.Property(k => k.DisplayPrefix).HasColumnName("display_prefix");
        builder.Property(k => k.Hash).HasColumnName("hash");
        builder.Property(k => k.CreatedAt).HasColumnName("created_at").HasComment(StoredTime.TicksComment);
        builder.Property(k => k.ExpiresAt).HasColumnName("expires_at").HasComment(StoredTime.TicksComment);
        builder.Property(k => k.RevokedAt).HasColumnName("revoked_at").HasComment(StoredTime.TicksComment);
        builder.Property(k => k.LastUsedAt).HasColumnName("last_used_at").HasComment(StoredTime.TicksComment);
        builder.Property(k => k.Limits).HasColumnName("limits").HasComment("The key's limit overrides as JSON, or NULL.");
        builder.Property(k => k.Budget).HasColumnName("budget").HasComment("The key's spend caps as JSON, or NULL.");
        builder.HasIndex(k => k.Hash).IsUnique();
        builder.HasIndex(k => k.AccountId);
    }
}
