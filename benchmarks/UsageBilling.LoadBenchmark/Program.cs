using UsageBilling.LoadBenchmark;

// A loopback load benchmark, not a test: it asserts nothing and `dotnet test` does not run it. See benchmarks/README.md.
//   dotnet run -c Release --project benchmarks/UsageBilling.LoadBenchmark -- [--duration 10] [--warmup 3] [--connections 64]
//       [--subjects bare,memory,sqlite,pg64,pghot,pgupdate]
// PostgreSQL subjects need USAGEBILLING_POSTGRES (a connection string whose role may create databases).
if (args is ["serve", var subject, ..])
{
    return await SubjectHost.RunAsync(Subject.Find(subject), args.Length > 2 ? args[2] : null);
}

BenchmarkOptions options;
try
{
    options = BenchmarkOptions.Parse(args);
}
catch (ArgumentException e)
{
    Console.Error.WriteLine(e.Message);
    Console.Error.WriteLine(BenchmarkOptions.Usage);
    return 2;
}

if (options.Help)
{
    Console.WriteLine(BenchmarkOptions.Usage);
    return 0;
}

await new LoadBenchmarkDriver(options).RunAsync();
return 0;
