using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace UsageBilling.EntityFrameworkCore;

internal sealed class UsageRecordEntityConfiguration(UsageBillingModelOptions options) : IEntityTypeConfiguration<UsageRecordEntity>
{
    public void Configure(EntityTypeBuilder<UsageRecordEntity> builder)
    {
        builder.ToTable(options.TablePrefix + "usage_records", options.Schema);
        builder.HasKey(r => r.RequestId);
        builder.Property(r => r.RequestId).HasColumnName("request_id");
        builder.Property(r => r.Timestamp).HasColumnName("timestamp").HasComment("Unix milliseconds (UTC).");
        builder.Property(r => r.KeyId).HasColumnName("key_id");
        builder.Property(r => r.AccountId).HasColumnName("account_id");
        builder.Property(r => r.Method).HasColumnName("method");
        builder.Property(r => r.Route).HasColumnName("route");
        builder.Property(r => r.StatusCode).HasColumnName("status_code");
        builder.Property(r => r.DurationMs).HasColumnName("duration_ms");
        builder.Property(r => r.Cost).HasColumnName("cost").HasComment(StoredTime.NanosComment);
        builder.Property(r => r.Outcome).HasColumnName("outcome");
        builder.Property(r => r.IdempotencyKey).HasColumnName("idempotency_key");
        builder.Property(r => r.Model).HasColumnName("model");
        builder.Property(r => r.InputTokens).HasColumnName("input_tokens");
        builder.Property(r => r.OutputTokens).HasColumnName("output_tokens");
        builder.Property(r => r.CachedInputTokens).HasColumnName("cached_input_tokens");
        builder.Property(r => r.CostBreakdown).HasColumnName("cost_breakdown").HasComment("JSON: the cost per price dimension.");
        builder.Property(r => r.TokensEstimated).HasColumnName("tokens_estimated");
        builder.Property(r => r.Streamed).HasColumnName("streamed");
        builder.Property(r => r.ClientAborted).HasColumnName("client_aborted");

        // Newest first, for all records, one account's, or one key's.
        builder.HasIndex(r => new { r.Timestamp, r.RequestId });
        builder.HasIndex(r => new { r.AccountId, r.Timestamp, r.RequestId });
        builder.HasIndex(r => new { r.KeyId, r.Timestamp, r.RequestId });
    }
}
