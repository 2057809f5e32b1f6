using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Storage;

namespace UsageBilling.EntityFrameworkCore;

/// <summary>One UsageBilling table as the context's model maps it: its delimited name and its columns by property name.</summary>
internal sealed class BillingTable
{
    private readonly Dictionary<string, string> _columns;

    private BillingTable(string name, Dictionary<string, string> columns)
    {
        Name = name;
        _columns = columns;
    }

    /// <summary>The delimited, schema-qualified table name, ready to put in SQL.</summary>
    public string Name { get; }

    /// <summary>The delimited column name of the entity property <paramref name="property"/>.</summary>
    public string this[string property] => _columns[property];

    public static BillingTable Of<TEntity>(DbContext context, ISqlGenerationHelper sql)
    {
        var entityType = context.Model.FindEntityType(typeof(TEntity))
            ?? throw new InvalidOperationException(
                $"The context '{context.GetType().Name}' has no UsageBilling tables. Call modelBuilder.UseUsageBilling() in its OnModelCreating, " +
                "or use the ready UsageBillingDbContext with UseEntityFrameworkCore(options => ...).");
        var mapping = entityType.GetTableMappings().Single();
        var columns = mapping.ColumnMappings.ToDictionary(
            c => c.Property.Name, c => sql.DelimitIdentifier(c.Column.Name), StringComparer.Ordinal);
        return new BillingTable(sql.DelimitIdentifier(mapping.Table.Name, mapping.Table.Schema), columns);
    }
}
