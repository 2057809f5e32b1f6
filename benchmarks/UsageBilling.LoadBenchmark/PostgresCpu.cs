namespace UsageBilling.LoadBenchmark;

/// <summary>
/// The CPU time of every PostgreSQL process on this machine (backends, WAL writer, checkpointer...), from
/// <c>/proc/[pid]/stat</c>: a local server's share of the machine, which the host's and the load generator's own CPU
/// per call leave out. Null where there is no <c>/proc</c> or no local <c>postgres</c> process (a remote server).
/// Backends that exit within the window take their time with them; the subjects' group writers keep theirs.
/// </summary>
internal static class PostgresCpu
{
    // Linux reports utime and stime in clock ticks of USER_HZ, which is 100 on every architecture .NET runs on.
    private const double TicksPerSecond = 100;

    public static TimeSpan? Read()
    {
        if (!Directory.Exists("/proc"))
        {
            return null;
        }

        long ticks = 0;
        var found = false;
        foreach (var directory in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(directory), out _))
            {
                continue;
            }

            string stat;
            try
            {
                stat = File.ReadAllText(Path.Combine(directory, "stat"));
            }
            catch (IOException)
            {
                continue; // exited meanwhile
            }
            catch (UnauthorizedAccessException)
            {
                continue;
            }

            // "pid (comm) state ppid ...": the name may hold spaces, so the fields are counted from its closing parenthesis.
            var open = stat.IndexOf('(', StringComparison.Ordinal);
            var close = stat.LastIndexOf(')');
            if (open < 0 || close < open || stat[(open + 1)..close] != "postgres")
            {
                continue;
            }

            var fields = stat[(close + 2)..].Split(' ');
            ticks += long.Parse(fields[11], System.Globalization.CultureInfo.InvariantCulture) + long.Parse(fields[12], System.Globalization.CultureInfo.InvariantCulture);
            found = true;
        }

        return found ? TimeSpan.FromSeconds(ticks / TicksPerSecond) : null;
    }
}
