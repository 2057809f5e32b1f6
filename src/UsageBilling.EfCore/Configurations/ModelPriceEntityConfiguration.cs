using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace UsageBilling.EntityFrameworkCore;

internal sealed class ModelPriceEntityConfiguration(UsageBillingModelOptions options) : IEntityTypeConfiguration<ModelPriceEntity>
{
    public void Configure(EntityTypeBuilder<ModelPriceEntity> builder)
    {
        builder.ToTable(options.TablePrefix + "model_prices", options.Schema);

        // One price per model and effective date: an upsert on this key replaces a price set for the same date.
        builder.HasKey(p => new { p.ModelKey, p.EffectiveFromKey });
        builder.Property(p => p.ModelKey).HasColumnName("model_key").HasComment("The model name in upper case.");
        builder.Property(p => p.EffectiveFromKey).HasColumnName("effective_from_key").HasComment("effective_from, or -1 when the price always applies.");
        builder.Property(p => p.Model).HasColumnName("model");
        builder.Property(p => p.EffectiveFrom).HasColumnName("effective_from").HasComment(StoredTime.TicksComment);
        builder.Property(p => p.InputPerMillion).HasColumnName("input_per_million").HasComment(StoredTime.NanosComment);
        builder.Property(p => p.OutputPerMillion).HasColumnName("output_per_million").HasComment(StoredTime.NanosComment);
        builder.Property(p => p.CachedInputPerMillion).HasColumnName("cached_input_per_million").HasComment(StoredTime.NanosComment);
        builder.Property(p => p.RequestFee).HasColumnName("request_fee").HasComment(StoredTime.NanosComment);
    }
}
