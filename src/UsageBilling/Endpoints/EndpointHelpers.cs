using System.Globalization;
using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace UsageBilling;

/// <summary>Input parsing shared by the admin and self-service endpoints: bad input is a 400 problem, never a 500.</summary>
internal static class EndpointHelpers
{
    internal const int MaxPageSize = 1000;

    public static bool TryParseTime(string? value, out DateTimeOffset? time)
    {
        time = null;
        if (string.IsNullOrEmpty(value))
        {
            return true;
        }

        if (DateTimeOffset.TryParse(value, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var parsed))
        {
            time = parsed;
            return true;
        }

        return false;
    }

    /// <summary>Reads a JSON body; malformed JSON or a wrong content type is a 400 problem, never a 500.</summary>
    public static async Task<(T? Body, IResult? Error)> ReadBodyAsync<T>(HttpContext context) where T : class
    {
        if (!context.Request.HasJsonContentType())
        {
            return (null, Problems.Result(StatusCodes.Status415UnsupportedMediaType, ProblemTypes.ValidationFailed, "Unsupported Media Type", "Send a JSON body with Content-Type: application/json."));
        }

        try
        {
            var body = await context.Request.ReadFromJsonAsync<T>(context.RequestAborted).ConfigureAwait(false);
            return body is null ? (null, Problems.Invalid("body", "A JSON object is required.")) : (body, null);
        }
        catch (JsonException ex)
        {
            var path = string.IsNullOrEmpty(ex.Path) || ex.Path == "$" ? "body" : ex.Path.TrimStart('$', '.');
            return (null, Problems.Invalid(path, "The JSON is malformed or a value has the wrong type."));
        }
    }

    /// <summary>Reads <c>from</c>/<c>to</c> (ISO 8601, UTC assumed) as a half-open period; both default to the current UTC month.</summary>
    public static bool TryParsePeriod(IQueryCollection query, DateTimeOffset now, out DateTimeOffset from, out DateTimeOffset to, out IResult? error)
        => TryParsePeriod(query["from"], query["to"], now, out from, out to, out error);

    /// <summary>Reads <c>from</c>/<c>to</c> (ISO 8601, UTC assumed) as a half-open period; both default to the current UTC month.</summary>
    public static bool TryParsePeriod(string? fromText, string? toText, DateTimeOffset now, out DateTimeOffset from, out DateTimeOffset to, out IResult? error)
    {
        var monthStart = new DateTimeOffset(now.UtcDateTime.Year, now.UtcDateTime.Month, 1, 0, 0, 0, TimeSpan.Zero);
        from = monthStart;
        to = monthStart.AddMonths(1);
        error = null;
        if (!TryParseTime(fromText, out var parsedFrom))
        {
            error = Problems.Invalid("from", "Use an ISO 8601 date-time such as 2026-11-01T00:00:00Z.");
            return false;
        }

        if (!TryParseTime(toText, out var parsedTo))
        {
            error = Problems.Invalid("to", "Use an ISO 8601 date-time such as 2026-12-01T00:00:00Z.");
            return false;
        }

        from = parsedFrom ?? from;
        to = parsedTo ?? to;
        if (from >= to)
        {
            error = Problems.Invalid("to", "'to' must be after 'from' (the period is [from, to)).");
            return false;
        }

        return true;
    }

    /// <summary>A 400 problem if a budget has a negative cap.</summary>
    public static IResult? InvalidBudget(SpendBudget? budget)
    {
        foreach (var (name, cap) in new[] { ("daily", budget?.Daily), ("weekly", budget?.Weekly), ("monthly", budget?.Monthly) })
        {
            if (cap is { IsNegative: true })
            {
                return Problems.Invalid($"budget.{name}", "A budget cap cannot be negative.");
            }
        }

        return null;
    }

    /// <summary>Reads an optional <c>limit</c> between 1 and <paramref name="max"/>.</summary>
    public static bool TryParseLimit(IQueryCollection query, int fallback, int max, out int limit, out IResult? error)
        => TryParseLimit(query["limit"].Count > 0 ? query["limit"].ToString() : null, fallback, max, out limit, out error);

    /// <summary>Reads an optional <c>limit</c> between 1 and <paramref name="max"/> (null: <paramref name="fallback"/>).</summary>
    public static bool TryParseLimit(string? text, int fallback, int max, out int limit, out IResult? error)
    {
        limit = fallback;
        error = null;
        if (text is not null && (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out limit) || limit < 1 || limit > max))
        {
            error = Problems.Invalid("limit", $"The limit must be between 1 and {max}.");
            return false;
        }

        return true;
    }
}
