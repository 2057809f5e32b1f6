using Microsoft.EntityFrameworkCore;

namespace UsageBilling.EntityFrameworkCore;

/// <summary>
/// The Entity Framework Core <see cref="IModelPriceStore"/>: an upsert on (model, effective date) replaces a price
/// set for the same model (whatever the case) and date in one statement.
/// </summary>
internal sealed class EfCoreModelPriceStore<TContext> : IModelPriceStore where TContext : DbContext
{
    private readonly BillingDatabase<TContext> _database;
    private string? _upsertSql;

    public EfCoreModelPriceStore(BillingDatabase<TContext> database) => _database = database;

    public ValueTask<IReadOnlyList<ModelPrice>> ListAsync(CancellationToken cancellationToken = default)
        => _database.ReadAsync(static async (context, _, cancellationToken) =>
        {
            var rows = await context.Set<ModelPriceEntity>().AsNoTracking()
                .OrderBy(p => p.ModelKey).ThenBy(p => p.EffectiveFromKey)
                .ToListAsync(cancellationToken).ConfigureAwait(false);
            IReadOnlyList<ModelPrice> prices = rows.Select(p => p.ToPrice()).ToList();
            return prices;
        }, cancellationToken, cancellationToken);

    public async ValueTask UpsertAsync(ModelPrice price, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(price);
        await _database.WriteAsync(async (transaction, ct) =>
        {
            var sql = _upsertSql ??= UpsertSql(transaction.Schema.ModelPrices);
            await using var upsert = transaction.Command(sql)
                .With("@modelKey", ModelPriceEntity.KeyOf(price.Model))
                .With("@effectiveKey", ModelPriceEntity.KeyOf(price.EffectiveFrom))
                .With("@model", price.Model)
                .With("@effective", StoredTime.ToTicks(price.EffectiveFrom))
                .With("@input", price.InputPerMillion.Nanos)
                .With("@output", price.OutputPerMillion.Nanos)
                .With("@cached", price.CachedInputPerMillion.Nanos)
                .With("@fee", price.RequestFee.Nanos);
            await upsert.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
            await transaction.CommitAsync(ct).ConfigureAwait(false);
            return true;
        }, cancellationToken).ConfigureAwait(false);
    }

    private static string UpsertSql(BillingTable t) => $"""
        INSERT INTO {t.Name} ({t["ModelKey"]}, {t["EffectiveFromKey"]}, {t["Model"]}, {t["EffectiveFrom"]}, {t["InputPerMillion"]}, {t["OutputPerMillion"]}, {t["CachedInputPerMillion"]}, {t["RequestFee"]})
        VALUES (@modelKey, @effectiveKey, @model, @effective, @input, @output, @cached, @fee)
        ON CONFLICT ({t["ModelKey"]}, {t["EffectiveFromKey"]}) DO UPDATE SET
            {t["Model"]} = excluded.{t["Model"]},
            {t["EffectiveFrom"]} = excluded.{t["EffectiveFrom"]},
            {t["InputPerMillion"]} = excluded.{t["InputPerMillion"]},
            {t["OutputPerMillion"]} = excluded.{t["OutputPerMillion"]},
            {t["CachedInputPerMillion"]} = excluded.{t["CachedInputPerMillion"]},
            {t["RequestFee"]} = excluded.{t["RequestFee"]}
        """;
}
