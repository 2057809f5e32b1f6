using System.Diagnostics;
using System.Text.Json;
using Microsoft.OpenApi;
using Microsoft.OpenApi.Reader;

namespace UsageBilling.Tests.Shared;

/// <summary>
/// Checks an OpenAPI document as a client generator would need it: it parses without errors, every operation has an
/// id, a summary, a success and an error response, problems use the ProblemDetails schema, path parameters are
/// declared, and API-key routes name the <c>ApiKey</c> scheme. <see cref="LintAsync"/> runs Redocly's recommended rules.
/// </summary>
internal static class OpenApiDocumentChecks
{
    /// <summary>The app's OpenAPI document as it serves it (<c>GET /openapi/v1.json</c>); disposes <paramref name="client"/>.</summary>
    public static async Task<string> ReadAsync(HttpClient client)
    {
        using (client)
        {
            return await client.GetStringAsync("/openapi/v1.json");
        }
    }

    public static OpenApiDocument Parse(string json)
    {
        var result = OpenApiDocument.Parse(json, OpenApiConstants.Json);
        Assert.True(result.Diagnostic?.Errors is null or { Count: 0 },
            "The document has errors: " + string.Join("; ", result.Diagnostic?.Errors.Select(e => $"{e.Pointer}: {e.Message}") ?? []));
        Assert.NotNull(result.Document);
        var validation = result.Document.Validate(ValidationRuleSet.GetDefaultRuleSet())?.ToList() ?? [];
        Assert.True(validation.Count == 0, "The document is not valid: " + string.Join("; ", validation.Select(e => $"{e.Pointer}: {e.Message}")));
        return result.Document;
    }

    /// <summary>Every operation: (path, method, operation).</summary>
    public static IEnumerable<(string Path, string Method, OpenApiOperation Operation)> Operations(OpenApiDocument document)
        => document.Paths.SelectMany(p => (p.Value.Operations ?? []).Select(o => (p.Key, o.Key.Method, o.Value)));

    public static void AssertDescribesEveryOperation(OpenApiDocument document)
    {
        var ids = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (path, method, operation) in Operations(document))
        {
            var where = $"{method} {path}";
            Assert.False(string.IsNullOrEmpty(operation.OperationId), $"{where} has no operationId");
            Assert.True(ids.Add(operation.OperationId!), $"{where}: operationId {operation.OperationId} is used twice");
            Assert.False(string.IsNullOrEmpty(operation.Summary), $"{where} has no summary");
            var responses = operation.Responses ?? [];
            Assert.True(responses.Keys.Any(k => k.StartsWith('2')), $"{where} declares no success response");
            foreach (var (status, response) in responses.Where(r => r.Key is not "204"))
            {
                Assert.True(response.Content is { Count: > 0 }, $"{where} {status} has no content schema");
                if (status.StartsWith('4') || status.StartsWith('5'))
                {
                    // LLM-metered routes refuse in their API's own error shape; every other error is a problem.
                    Assert.True(response.Content!.ContainsKey("application/problem+json") || LlmErrorSchema(response) is not null,
                        $"{where} {status} is neither a problem (RFC 9457) nor an LLM API error");
                }
            }

            if (path != "/")
            {
                Assert.True(responses.Keys.Any(k => k.StartsWith('4')), $"{where} declares no 4xx response");
            }

            var declared = (operation.Parameters ?? []).Where(p => p.In == ParameterLocation.Path).Select(p => p.Name).ToHashSet();
            foreach (var segment in path.Split('/').Where(s => s.StartsWith('{')))
            {
                Assert.Contains(segment.Trim('{', '}'), declared);
            }

            foreach (var parameter in TypedQueryParameters(operation))
            {
                AssertTyped(where, parameter);
            }

            if (method is "POST" or "PUT" or "PATCH" && !path.Contains("/keys/", StringComparison.Ordinal) && operation.OperationId != "ingestLiteLlmUsage")
            {
                Assert.True(operation.RequestBody?.Content?.ContainsKey("application/json") == true, $"{where} describes no JSON request body");
            }
        }
    }

    /// <summary>Query parameters that hold a number or a time: <c>limit</c> (a page size), <c>from</c> and <c>to</c> (a period).</summary>
    public static IEnumerable<IOpenApiParameter> TypedQueryParameters(OpenApiOperation operation)
        => (operation.Parameters ?? []).Where(p => p.In == ParameterLocation.Query && p.Name is "limit" or "from" or "to");

    /// <summary>A page size is an integer from 1 to a maximum; a period bound is a date-time string.</summary>
    private static void AssertTyped(string where, IOpenApiParameter parameter)
    {
        var schema = parameter.Schema;
        Assert.NotNull(schema);
        if (parameter.Name == "limit")
        {
            Assert.True(schema.Type == JsonSchemaType.Integer && schema.Minimum == "1" && int.TryParse(schema.Maximum, out var max) && max > 1,
                $"{where}: query parameter limit is {schema.Type} (minimum {schema.Minimum}, maximum {schema.Maximum}), not an integer from 1 to a maximum");
        }
        else
        {
            Assert.True(schema.Type == JsonSchemaType.String && schema.Format == "date-time",
                $"{where}: query parameter {parameter.Name} is {schema.Type} ({schema.Format}), not a date-time string");
        }
    }

    /// <summary>The component schema of a response declared as an LLM API's error (<c>OpenAIError</c> or <c>AnthropicError</c> as <c>application/json</c>), or null.</summary>
    public static string? LlmErrorSchema(IOpenApiResponse response)
        => response.Content?.TryGetValue("application/json", out var json) == true && json.Schema is OpenApiSchemaReference { Reference.Id: "OpenAIError" or "AnthropicError" } reference
            ? reference.Reference.Id
            : null;

    /// <summary>The component schema of a problem response (<c>application/problem+json</c>), or null.</summary>
    public static string? ProblemSchema(IOpenApiResponse response)
        => response.Content?.TryGetValue("application/problem+json", out var problem) == true && problem.Schema is OpenApiSchemaReference reference
            ? reference.Reference.Id
            : null;

    /// <summary>The security scheme names an operation requires.</summary>
    public static IEnumerable<string> Schemes(OpenApiOperation operation)
        => (operation.Security ?? []).SelectMany(r => r.Keys).Select(k => k.Reference.Id ?? "");

    /// <summary>Runs <c>redocly lint</c> (recommended rules) on <paramref name="json"/>: its error count, and the problems as text. Null: Redocly is not installed here.</summary>
    public static async Task<(int Errors, int Warnings, string Problems)?> LintAsync(string json)
    {
        var tool = Path.Combine(RepositoryRoot(), "eng", "openapi");
        var redocly = Path.Combine(tool, "node_modules", ".bin", "redocly");
        if (!File.Exists(redocly))
        {
            return null;
        }

        var file = Path.Combine(Path.GetTempPath(), $"openapi-{Guid.NewGuid():N}.json");
        await File.WriteAllTextAsync(file, json);
        try
        {
            var start = new ProcessStartInfo(redocly, ["lint", file, "--config", Path.Combine(tool, "redocly.yaml"), "--format=json", "--max-problems=1000"])
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                WorkingDirectory = tool,
            };
            using var process = Process.Start(start)!;
            var output = process.StandardOutput.ReadToEndAsync();
            var error = process.StandardError.ReadToEndAsync();
            await process.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(2));
            var text = await output;
            Assert.True(text.TrimStart().StartsWith('{'), $"redocly printed no JSON report (exit {process.ExitCode}): {text} {await error}");
            using var report = JsonDocument.Parse(text);
            var totals = report.RootElement.GetProperty("totals");
            var problems = string.Join("\n", report.RootElement.GetProperty("problems").EnumerateArray().Select(p =>
                $"{p.GetProperty("severity").GetString()} {p.GetProperty("ruleId").GetString()}: {p.GetProperty("message").GetString()} at "
                + string.Join(",", p.GetProperty("location").EnumerateArray().Select(l => l.TryGetProperty("pointer", out var pointer) ? pointer.GetString() : ""))));
            return (totals.GetProperty("errors").GetInt32(), totals.GetProperty("warnings").GetInt32(), problems);
        }
        finally
        {
            File.Delete(file);
        }
    }

    /// <summary>Why the lint cannot run here, or null when it must: in CI (CI=true) a missing Redocly is a failure, not a skip.</summary>
    public static string? LintSkipReason()
    {
        if (File.Exists(Path.Combine(RepositoryRoot(), "eng", "openapi", "node_modules", ".bin", "redocly")))
        {
            return null;
        }

        Assert.False(string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase),
            "Redocly is not installed: .ci/run must run 'npm install --prefix eng/openapi'.");
        return "Redocly is not installed: run 'npm install --prefix eng/openapi' (needs Node.js) to lint the OpenAPI documents.";
    }

    private static string RepositoryRoot()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "UsageBilling.sln")))
        {
            directory = directory.Parent;
        }

        return directory?.FullName ?? throw new InvalidOperationException("UsageBilling.sln not found above the test directory.");
    }
}
