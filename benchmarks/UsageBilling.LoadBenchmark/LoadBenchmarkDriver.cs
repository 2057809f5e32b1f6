using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Microsoft.Data.Sqlite;

namespace UsageBilling.LoadBenchmark;

/// <summary>Runs each subject in its own host process, drives it, and prints the table and what bounds each row.</summary>
internal sealed class LoadBenchmarkDriver(BenchmarkOptions options)
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);
    private readonly PostgresServer? _postgres = PostgresServer.FromEnvironment(options.Connections);

    public async Task RunAsync()
    {
        var requested = options.Subjects.ToHashSet();
        if (requested.Any(n => n != BenchmarkOptions.PlainUpdate))
        {
            requested.Add(Subject.Bare.Name);
        }

        Console.WriteLine($"UsageBilling load benchmark: {(options.Wrk ? "wrk -t2" : "in-process generator")}, {options.Connections} connections, warm-up {options.WarmUp.TotalSeconds:0.#} s, measured {options.Duration.TotalSeconds:0.#} s per subject; "
            + $"{Environment.ProcessorCount} cores, .NET {Environment.Version}, {System.Runtime.InteropServices.RuntimeInformation.OSDescription}");
        if (_postgres is not null && requested.Any(IsPostgres))
        {
            Console.WriteLine(await _postgres.DescribeAsync());
        }

        var rounds = new List<List<Row>>();
        for (var round = 1; round <= options.Rounds; round++)
        {
            if (options.Rounds > 1)
            {
                Console.WriteLine($"== round {round} of {options.Rounds}");
            }

            var (rows, skipped) = await RunRoundAsync(requested);
            rounds.Add(rows);
            Console.WriteLine();
            Console.WriteLine(Report(rows, skipped));
        }

        if (rounds.Count > 1)
        {
            Console.WriteLine(Summary(rounds));
        }
    }

    /// <summary>Every requested subject once, bare first: their rows, and why any were skipped.</summary>
    private async Task<(List<Row> Rows, List<string> Skipped)> RunRoundAsync(HashSet<string> requested)
    {
        var rows = new List<Row>();
        var skipped = new List<string>();
        foreach (var subject in Subject.All.Where(s => requested.Contains(s.Name)))
        {
            if (subject.Backend == SubjectBackend.Postgres && _postgres is null)
            {
                skipped.Add($"{subject.Name} skipped: set {PostgresServer.Variable} to a PostgreSQL connection string whose role may create databases.");
                Console.WriteLine(skipped[^1]);
                continue;
            }

            rows.Add(await RunSubjectAsync(subject));
        }

        if (requested.Contains(BenchmarkOptions.PlainUpdate))
        {
            if (_postgres is null)
            {
                skipped.Add($"{BenchmarkOptions.PlainUpdate} skipped: set {PostgresServer.Variable}.");
                Console.WriteLine(skipped[^1]);
            }
            else
            {
                rows.Add(await RunPlainUpdateAsync(_postgres));
            }
        }

        return (rows, skipped);
    }

    /// <summary>
    /// Across rounds: each subject's ratio to the bare run of its own round (so that a slow or fast stretch of the machine
    /// moves both), as the median and the range; and the hot account against the plain UPDATE the same way.
    /// </summary>
    private string Summary(List<List<Row>> rounds)
    {
        static double Median(List<double> values)
        {
            values.Sort();
            var middle = values.Count / 2;
            return values.Count % 2 == 1 ? values[middle] : (values[middle - 1] + values[middle]) / 2;
        }

        var text = new StringBuilder();
        text.AppendLine(CultureInfo.InvariantCulture, $"Across {rounds.Count} rounds (each ratio to the bare run of its own round):");
        text.AppendLine();
        text.AppendLine("| subject | × bare, median | × bare, range | req/s, median |");
        text.AppendLine("|---|--:|--:|--:|");
        foreach (var name in rounds[0].Where(r => r.Server is not null).Select(r => r.Name))
        {
            var ratios = new List<double>();
            var rates = new List<double>();
            foreach (var rows in rounds)
            {
                var bare = rows.FirstOrDefault(r => r.Name == Subject.Bare.Name);
                if (rows.FirstOrDefault(r => r.Name == name) is { } row && row.RatioTo(bare) is { } ratio)
                {
                    ratios.Add(ratio);
                    rates.Add(row.Load.PerSecond);
                }
            }

            if (ratios.Count > 0)
            {
                text.AppendLine(CultureInfo.InvariantCulture,
                    $"| {name} | {Median(ratios):0.000} | {ratios.Min():0.000}–{ratios.Max():0.000} | {Median(rates):N0} |");
            }
        }

        var hot = rounds.Select(rows => (Hot: rows.FirstOrDefault(r => r.Name == Subject.PostgresHot.Name), Plain: rows.FirstOrDefault(r => r.Name == BenchmarkOptions.PlainUpdate)))
            .Select(p => p.Hot?.RatioTo(p.Plain)).OfType<double>().ToList();
        if (hot.Count > 0)
        {
            text.AppendLine();
            text.AppendLine(CultureInfo.InvariantCulture, $"Hot account vs plain UPDATE: median {Median(hot):0.000}× (range {hot.Min():0.000}–{hot.Max():0.000}).");
        }

        return text.ToString();
    }

    private static bool IsPostgres(string name) => name == BenchmarkOptions.PlainUpdate || Subject.Find(name).Backend == SubjectBackend.Postgres;

    private async Task<Row> RunSubjectAsync(Subject subject)
    {
        Console.WriteLine($"-- {subject.Name}: {subject.Description}");
        string? connectionString = null;
        string? database = null;
        string? sqlitePath = null;
        switch (subject.Backend)
        {
            case SubjectBackend.Sqlite:
                sqlitePath = Path.Combine(Path.GetTempPath(), $"usagebilling-load-{Guid.NewGuid():N}.db");
                connectionString = $"Data Source={sqlitePath}";
                break;
            case SubjectBackend.Postgres:
                database = $"usagebilling_load_{Guid.NewGuid():N}";
                connectionString = await _postgres!.CreateDatabaseAsync(database);
                break;
        }

        try
        {
            using var host = await SubjectProcess.StartAsync(subject, connectionString);
            using var statsClient = new HttpClient { BaseAddress = host.BaseAddress };
            ServerStats? before = null, after = null;
            TimeSpan? postgresCpuBefore = null, postgresCpuAfter = null;
            using var stopSampling = new CancellationTokenSource();
            Task<WaitProfile>? sampling = null;
            async Task AtMeasureStart()
            {
                before = await statsClient.GetFromJsonAsync<ServerStats>("/_bench/stats", Json);
                if (database is not null)
                {
                    postgresCpuBefore = PostgresCpu.Read();
                    sampling = _postgres!.SampleWaitsAsync(database, stopSampling.Token);
                }
            }

            async Task AtMeasureEnd()
            {
                after = await statsClient.GetFromJsonAsync<ServerStats>("/_bench/stats", Json);
                postgresCpuAfter = database is null ? null : PostgresCpu.Read();
                await stopSampling.CancelAsync();
                if (options.Kill && connectionString is not null)
                {
                    // While the load generator's connections are still sending.
                    await host.KillAsync();
                }
            }

            var target = new Uri(host.BaseAddress, "/x");
            var body = subject.Llm ? SubjectHost.LlmRequest : null;
            var load = options.Wrk
                ? await WrkGenerator.RunAsync(target, host.Keys, options.Connections, options.WarmUp, options.Duration, AtMeasureStart, AtMeasureEnd, body)
                : await LoadGenerator.RunAsync(target, host.Keys, options.Connections, options.WarmUp, options.Duration, AtMeasureStart, AtMeasureEnd,
                    overrun: options.Kill ? TimeSpan.FromSeconds(2) : TimeSpan.Zero, jsonBody: body);
            var waits = sampling is null ? null : await sampling;
            if (options.Kill && connectionString is not null)
            {
                Console.WriteLine("   after kill -9: " + await KilledDatabase.CountAsync(subject.Backend, connectionString, load.Answered));
            }
            else
            {
                await host.StopAsync();
            }

            var row = new Row(subject.Name, subject.Description, load, before!, after!, subject.IsEntityFrameworkCore, waits)
            {
                PostgresCpu = postgresCpuAfter - postgresCpuBefore,
            };
            Console.WriteLine($"   {load.PerSecond:N0} req/s, p50 {Ms(load.P50)}, p99 {Ms(load.P99)}");
            return row;
        }
        finally
        {
            if (sqlitePath is not null)
            {
                SqliteConnection.ClearAllPools();
                foreach (var file in new[] { sqlitePath, sqlitePath + "-wal", sqlitePath + "-shm" })
                {
                    File.Delete(file);
                }
            }

            if (database is not null)
            {
                await _postgres!.DropDatabaseAsync(database);
            }
        }
    }

    private async Task<Row> RunPlainUpdateAsync(PostgresServer postgres)
    {
        const string description = "PostgreSQL plain UPDATE ... WHERE balance >= @x, one row (raw Npgsql, no HTTP)";
        Console.WriteLine($"-- {BenchmarkOptions.PlainUpdate}: {description}");
        var database = $"usagebilling_load_{Guid.NewGuid():N}";
        var connectionString = await postgres.CreateDatabaseAsync(database);
        try
        {
            var (load, waits) = await postgres.RunPlainUpdateAsync(database, connectionString, options.Connections, options.WarmUp, options.Duration);
            Console.WriteLine($"   {load.PerSecond:N0} updates/s, p50 {Ms(load.P50)}, p99 {Ms(load.P99)}");
            return new Row(BenchmarkOptions.PlainUpdate, description, load, null, null, false, waits);
        }
        finally
        {
            await postgres.DropDatabaseAsync(database);
        }
    }

    private string Report(List<Row> rows, List<string> skipped)
    {
        var bare = rows.FirstOrDefault(r => r.Name == Subject.Bare.Name);
        var text = new StringBuilder();
        text.AppendLine(CultureInfo.InvariantCulture, $"| subject | req/s | p50 | p99 | × bare | SQL statements/call | round trips/call | server CPU/call | server alloc/call | machine CPU busy |");
        text.AppendLine("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|");
        foreach (var row in rows)
        {
            var ratio = row.Server is not null && row.RatioTo(bare) is { } value ? value.ToString("0.000", CultureInfo.InvariantCulture) : "–";
            text.AppendLine(CultureInfo.InvariantCulture,
                $"| {row.Name}: {row.Description} | {row.Load.PerSecond:N0} | {Ms(row.Load.P50)} | {Ms(row.Load.P99)} | {ratio} | {row.StatementsPerCall} | {row.RoundTripsPerCall} | {row.CpuPerCall} | {row.AllocatedPerCall} | {row.Load.MachineBusy:P0} |");
        }

        var hot = rows.FirstOrDefault(r => r.Name == Subject.PostgresHot.Name);
        var plain = rows.FirstOrDefault(r => r.Name == BenchmarkOptions.PlainUpdate);
        if (hot?.RatioTo(plain) is { } hotOverPlain)
        {
            text.AppendLine();
            text.AppendLine(CultureInfo.InvariantCulture,
                $"Hot account vs plain UPDATE on one row, same {options.Connections} callers: {hotOverPlain:0.000}× ({hot.Load.PerSecond:N0} calls/s vs {plain!.Load.PerSecond:N0} updates/s).");
        }

        if (bare?.MachineCpuPerCall is { } bareCpu)
        {
            // The bare endpoint keeps the machine busy, so its rate is the cores over its CPU per call; no subject can
            // do better than the cores over its own, which bounds its ratio to bare by the ratio of the two.
            var bareTotal = bareCpu.Host + bareCpu.Generator;
            text.AppendLine();
            text.AppendLine(CultureInfo.InvariantCulture,
                $"CPU per call, and the ceiling it puts on the ratio to bare (bare: host {bareCpu.Host:0} + load generator {bareCpu.Generator:0} = {bareTotal:0} µs; a subject's × bare is at most {bareTotal:0} / its own):");
            foreach (var row in rows.Where(r => !ReferenceEquals(r, bare)))
            {
                if (row.MachineCpuPerCall is not { } cpu)
                {
                    continue;
                }

                var (host, generator, postgres) = cpu;
                var total = host + generator + postgres;
                var ceiling = bareTotal / total;
                var measured = row.RatioTo(bare) ?? 0;
                text.AppendLine(CultureInfo.InvariantCulture,
                    $"- {row.Name}: host {host:0} + load generator {generator:0}{(postgres > 0 ? FormattableString.Invariant($" + PostgreSQL {postgres:0}") : "")} = {total:0} µs; ceiling {ceiling:0.000}× bare, measured {measured / ceiling:0.00} of it");
            }
        }

        text.AppendLine();
        text.AppendLine("Per subject (per call = divided by the calls the host answered in the measured window):");
        foreach (var row in rows)
        {
            text.AppendLine(CultureInfo.InvariantCulture, $"- {row.Name}: {row.Details()}");
        }

        foreach (var reason in skipped)
        {
            text.AppendLine(CultureInfo.InvariantCulture, $"- {reason}");
        }

        return text.ToString();
    }

    internal static string Ms(TimeSpan t) => t.TotalMilliseconds < 10
        ? t.TotalMilliseconds.ToString("0.00 'ms'", CultureInfo.InvariantCulture)
        : t.TotalMilliseconds.ToString("0 'ms'", CultureInfo.InvariantCulture);

    private sealed record Row(string Name, string Description, LoadResult Load, ServerStats? Before, ServerStats? After, bool CountsStatements,
        WaitProfile? Waits)
    {
        public ServerStats? Server => After;

        /// <summary>This row's rate over <paramref name="baseline"/>'s (bare, or the plain UPDATE for the hot account); null without a baseline run that served anything.</summary>
        public double? RatioTo(Row? baseline) => baseline is null || baseline.Load.PerSecond <= 0 ? null : Load.PerSecond / baseline.Load.PerSecond;

        /// <summary>The CPU time of the machine's PostgreSQL processes in the measured window (<see cref="LoadBenchmark.PostgresCpu"/>), when known.</summary>
        public TimeSpan? PostgresCpu { get; init; }

        private long Calls => Before is null || After is null ? Load.Calls : Math.Max(1, After.Served - Before.Served);

        private double PerCall(string counter) => (After!.Database.GetValueOrDefault(counter) - Before!.Database.GetValueOrDefault(counter)) / (double)Calls;

        private bool OnPostgres => After!.Database.Keys.Any(k => k.StartsWith("npgsql.", StringComparison.Ordinal));

        private IEnumerable<string> Counters(string prefix) => After!.Database.Keys.Where(k => k.StartsWith(prefix, StringComparison.Ordinal));

        // Npgsql sends COMMIT / ROLLBACK itself, outside its command activities: EF's transaction counts stand for them.
        private double PostgresCommits => PerCall("ef.COMMIT") + PerCall("ef.ROLLBACK");

        /// <summary>
        /// SQLite: every statement the engine ran. PostgreSQL: every statement in a command, plus BEGIN, COMMIT / ROLLBACK
        /// and the pool reset DISCARD ALL (one per connection open).
        /// </summary>
        private double Statements => OnPostgres
            ? Counters("npgsql.").Where(k => k != "npgsql.roundTrips").Sum(PerCall) + PerCall("ef.BEGIN") + PostgresCommits + PerCall("ef.opens")
            : Counters("sqlite.").Sum(PerCall);

        public string StatementsPerCall => CountsStatements && Before is not null ? Statements.ToString("0.00", CultureInfo.InvariantCulture) : "–";

        /// <summary>PostgreSQL: commands (BEGIN and DISCARD ALL ride with the next one) plus COMMIT / ROLLBACK. SQLite runs in process.</summary>
        public string RoundTripsPerCall => CountsStatements && Before is not null && OnPostgres
            ? (PerCall("npgsql.roundTrips") + PostgresCommits).ToString("0.00", CultureInfo.InvariantCulture)
            : "–";

        public string CpuPerCall => MachineCpuPerCall is { } cpu ? cpu.Host.ToString("#,0' µs'", CultureInfo.InvariantCulture) : "–";

        /// <summary>
        /// The machine's CPU per call, µs: the host's, the load generator's and the PostgreSQL processes' (when known);
        /// null without the host's figures.
        /// </summary>
        public (double Host, double Generator, double Postgres)? MachineCpuPerCall => Before is null || After is null
            ? null
            : (TimeSpan.FromTicks(After.CpuTicks - Before.CpuTicks).TotalMicroseconds / Calls,
                Load.ClientCpu.TotalMicroseconds / Math.Max(1, Load.Calls),
                PostgresCpu is { } postgres ? postgres.TotalMicroseconds / Calls : 0);

        public string AllocatedPerCall => Before is null || After is null
            ? "–"
            : ((After.AllocatedBytes - Before.AllocatedBytes) / (double)Calls / 1024).ToString("0.0' KB'", CultureInfo.InvariantCulture);

        /// <summary>Store operations (groups, batches) and metering phases: calls per operation and mean duration.</summary>
        private string Timings()
        {
            var names = After!.Database.Keys.Where(k => k.StartsWith("timing.", StringComparison.Ordinal) && k.EndsWith(".count", StringComparison.Ordinal))
                .Select(k => k["timing.".Length..^".count".Length]).Order(StringComparer.Ordinal);
            var shown = new List<string>();
            foreach (var name in names)
            {
                var count = After.Database[$"timing.{name}.count"] - Before!.Database.GetValueOrDefault($"timing.{name}.count");
                if (count <= 0)
                {
                    continue;
                }

                var micros = After.Database[$"timing.{name}.us"] - Before.Database.GetValueOrDefault($"timing.{name}.us");
                shown.Add(FormattableString.Invariant($"{name} {Calls / (double)count:0.0} calls each, mean {micros / (double)count / 1000:0.00} ms"));
            }

            return shown.Count == 0 ? "" : "timings: " + string.Join(", ", shown);
        }

        public string Details()
        {
            var parts = new List<string>();
            if (Before is not null && After is not null)
            {
                parts.Add($"{Calls:N0} calls answered 200, {After.Failed - Before.Failed:N0} refused; server CPU {CpuPerCall}/call, {AllocatedPerCall}/call");
                if (CountsStatements)
                {
                    var prefix = OnPostgres ? "npgsql." : "sqlite.";
                    var verbs = Counters(prefix).Where(k => k != "npgsql.roundTrips" && PerCall(k) > 0.005)
                        .OrderByDescending(PerCall).Select(k => $"{k[prefix.Length..]} {PerCall(k):0.00}");
                    var transactions = $"EF transactions {PerCall("ef.BEGIN"):0.00} begun, {PerCall("ef.COMMIT"):0.00} committed, {PerCall("ef.ROLLBACK"):0.00} rolled back; connection opens {PerCall("ef.opens"):0.00}";
                    parts.Add($"statements/call by verb: {string.Join(", ", verbs)}; {transactions}");
                }

                parts.Add($"GC gen0 {After.Gen0 - Before.Gen0}, gen2 {After.Gen2 - Before.Gen2}, paused {PerCall("runtime.gcPauseTicks") / TimeSpan.TicksPerMicrosecond:0.0} µs/call; working set at end {After.WorkingSet / 1048576.0:N0} MB; "
                    + $"per call {PerCall("runtime.threadPoolWorkItems"):0.0} thread-pool work items, {PerCall("runtime.lockContentions"):0.00} lock contentions; "
                    + $"{After.Database.GetValueOrDefault("runtime.threadPoolThreads")} thread-pool threads at end");
                if (Timings() is { Length: > 0 } timings)
                {
                    parts.Add(timings);
                }
            }

            parts.Add($"load generator CPU {Load.ClientCpu.TotalMicroseconds / Math.Max(1, Load.Calls):#,0} µs/call");
            if (Load.Errors.Count > 0)
            {
                parts.Add("errors: " + string.Join(", ", Load.Errors.Select(e => $"{e.Key} ×{e.Value}")));
            }

            if (PostgresCpu is { } postgresCpu)
            {
                parts.Add($"PostgreSQL CPU (every postgres process on this machine) {postgresCpu.TotalMicroseconds / Calls:#,0} µs/call");
            }

            if (Waits is not null)
            {
                parts.Add($"PostgreSQL backends of the subject's database, mean number in each state over {Waits.Samples} samples: {Waits}");
            }

            var text = string.Join("; ", parts);
            if (CountsStatements && Before is not null && After is not null)
            {
                var shapes = After.StatementShapes
                    .Select(p => (Shape: p.Key, PerCall: (p.Value - Before.StatementShapes.GetValueOrDefault(p.Key)) / (double)Calls))
                    .Where(p => p.PerCall > 0.005).OrderByDescending(p => p.PerCall).Take(15);
                text += Environment.NewLine + string.Join(Environment.NewLine, shapes.Select(p => $"    {p.PerCall,5:0.00}/call  {p.Shape}"));
            }

            return text;
        }
    }
}
