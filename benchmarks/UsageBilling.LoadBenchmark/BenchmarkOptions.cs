using System.Globalization;

namespace UsageBilling.LoadBenchmark;

/// <summary>The driver's command line.</summary>
internal sealed record BenchmarkOptions
{
    public const string PlainUpdate = "pgupdate";

    public const string Usage = """
        Usage: UsageBilling.LoadBenchmark [--duration SECONDS] [--warmup SECONDS] [--connections N] [--rounds N] [--subjects LIST]
          --duration     measured time per subject, default 10
          --warmup       load before measuring (JIT, pools, caches), default 10
          --connections  concurrent HTTP connections (and PostgreSQL callers/pool size), default 64
          --rounds       run every subject this many times, bare first in each round, and end with each subject's
                         median ratio to the bare run of its own round (single runs move by a fifth), default 1
          --kill         end each SQLite and PostgreSQL subject with kill -9 under load (instead of a graceful stop) and
                         count what its database kept: charges in the ledger, their usage records, holds left
          --generator    inprocess (default: the load generator in this program) or wrk (Debian's wrk -t2, which
                         costs the machine less per call; not with --kill)
          --subjects     comma-separated, default bare,auth,memory,sqlite,sqlite64,pg64,pghot,pgupdate
                         (bare is always run first when any other is asked for: ratios are to bare in the same run)
        PostgreSQL subjects (pg64, pghot, pgupdate) need USAGEBILLING_POSTGRES; without it they are skipped.
        """;

    public TimeSpan Duration { get; init; } = TimeSpan.FromSeconds(10);

    public TimeSpan WarmUp { get; init; } = TimeSpan.FromSeconds(10);

    public int Connections { get; init; } = 64;

    public IReadOnlyList<string> Subjects { get; init; } = [.. Subject.Default.Select(s => s.Name), PlainUpdate];

    /// <summary>How many times every subject runs, bare first each time; the summary gives each subject's median ratio.</summary>
    public int Rounds { get; init; } = 1;

    public bool Help { get; init; }

    public bool Kill { get; init; }

    /// <summary>Whether <c>wrk</c> drives the subjects instead of the in-process load generator.</summary>
    public bool Wrk { get; init; }

    public static BenchmarkOptions Parse(string[] args)
    {
        var options = new BenchmarkOptions();
        for (var i = 0; i < args.Length; i++)
        {
            string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value.");
            double Seconds() => double.TryParse(Value(), NumberStyles.Float, CultureInfo.InvariantCulture, out var s) && s >= 0
                ? s
                : throw new ArgumentException($"{args[i - 1]} needs a number of seconds.");
            options = args[i] switch
            {
                "--duration" => options with { Duration = TimeSpan.FromSeconds(Seconds()) },
                "--warmup" => options with { WarmUp = TimeSpan.FromSeconds(Seconds()) },
                "--connections" => options with
                {
                    Connections = int.TryParse(Value(), CultureInfo.InvariantCulture, out var n) && n > 0 ? n : throw new ArgumentException("--connections needs a positive number."),
                },
                "--rounds" => options with
                {
                    Rounds = int.TryParse(Value(), CultureInfo.InvariantCulture, out var r) && r > 0 ? r : throw new ArgumentException("--rounds needs a positive number."),
                },
                "--subjects" => options with { Subjects = Value().Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries) },
                "--kill" => options with { Kill = true },
                "--generator" => Value() switch
                {
                    "inprocess" => options with { Wrk = false },
                    "wrk" => options with { Wrk = true },
                    _ => throw new ArgumentException("--generator is inprocess or wrk."),
                },
                "--help" or "-h" => options with { Help = true },
                _ => throw new ArgumentException($"Unknown argument '{args[i]}'."),
            };
        }

        foreach (var name in options.Subjects.Where(n => n != PlainUpdate))
        {
            Subject.Find(name);
        }

        if (options.Wrk && options.Kill)
        {
            throw new ArgumentException("--kill needs the in-process generator, which counts the 200s it received.");
        }

        if (options.Wrk && !WrkGenerator.IsInstalled())
        {
            throw new ArgumentException("--generator wrk: wrk is not on the PATH (Debian: apt-get install -y wrk).");
        }

        if (options.Duration <= TimeSpan.Zero)
        {
            throw new ArgumentException("--duration must be positive.");
        }

        return options;
    }
}
