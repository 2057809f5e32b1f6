namespace UsageBilling;

/// <summary>Service-tier names as providers write them, reduced to the names prices are listed under.</summary>
internal static class ServiceTiers
{
    /// <summary>
    /// Lower case, trimmed; the names providers use for the standard tier (<c>default</c>, <c>auto</c>,
    /// <c>standard</c>, <c>standard_only</c>) and empty names become <see langword="null"/>.
    /// </summary>
    public static string? Normalize(string? tier)
    {
        var name = tier?.Trim().ToLowerInvariant();
        return name is null or "" or "default" or "auto" or "standard" or "standard_only" || name.Length > 32 ? null : name;
    }
}
