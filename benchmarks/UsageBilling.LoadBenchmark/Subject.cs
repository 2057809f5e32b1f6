namespace UsageBilling.LoadBenchmark;

/// <summary>What one host serves: the endpoint bare, or metered on one backend.</summary>
internal sealed record Subject(string Name, string Description, SubjectBackend Backend, int Accounts)
{
    public static readonly Subject Bare = new("bare", "bare endpoint (no UsageBilling)", SubjectBackend.None, 1);
    public static readonly Subject AuthOnly = new("auth", "API key authentication only (in-memory stores, no price)", SubjectBackend.InMemory, 1) { Metered = false };
    public static readonly Subject InMemory = new("memory", "full pipeline, in-memory stores", SubjectBackend.InMemory, 1);
    public static readonly Subject Sqlite = new("sqlite", "full pipeline, SQLite (EF Core, temp file)", SubjectBackend.Sqlite, 1);
    public static readonly Subject Sqlite64 = new("sqlite64", "full pipeline, SQLite, 64 accounts", SubjectBackend.Sqlite, 64);
    public static readonly Subject Postgres64 = new("pg64", "full pipeline, PostgreSQL, 64 accounts", SubjectBackend.Postgres, 64);
    public static readonly Subject PostgresHot = new("pghot", "full pipeline, PostgreSQL, one hot account", SubjectBackend.Postgres, 1);

    public static readonly Subject SqliteLlm = new("sqlitellm", "LLM-metered (OpenAI JSON, token price, token limit, monthly budget), SQLite", SubjectBackend.Sqlite, 1) { Llm = true };
    public static readonly Subject Postgres64Llm = new("pg64llm", "LLM-metered (OpenAI JSON, token price, token limit, monthly budget), PostgreSQL, 64 accounts", SubjectBackend.Postgres, 64) { Llm = true };

    /// <summary>The subjects a run measures unless told otherwise.</summary>
    public static IReadOnlyList<Subject> Default { get; } = [Bare, AuthOnly, InMemory, Sqlite, Sqlite64, Postgres64, PostgresHot];

    /// <summary>Every subject: <see cref="Default"/> and the LLM-metered ones (by name with <c>--subjects</c>).</summary>
    public static IReadOnlyList<Subject> All { get; } = [.. Default, SqliteLlm, Postgres64Llm];

    /// <summary>Whether the endpoint has a price; without one it only requires an API key (what metering adds is the difference).</summary>
    public bool Metered { get; init; } = true;

    /// <summary>
    /// Whether <c>POST /x</c> is an OpenAI chat completion metered by its tokens (<c>MeterLlmUsage</c>), on a plan with a
    /// token limit and accounts with a monthly budget: the estimate is held, and the actual use corrects the token and
    /// spend counters when the call completes.
    /// </summary>
    public bool Llm { get; init; }

    public bool IsEntityFrameworkCore => Backend is SubjectBackend.Sqlite or SubjectBackend.Postgres;

    public static Subject Find(string name) => All.FirstOrDefault(s => s.Name == name)
        ?? throw new ArgumentException($"Unknown subject '{name}'; the subjects are {string.Join(", ", All.Select(s => s.Name))} (and pgupdate, the plain-UPDATE baseline).");
}

internal enum SubjectBackend
{
    None,
    InMemory,
    Sqlite,
    Postgres,
}
