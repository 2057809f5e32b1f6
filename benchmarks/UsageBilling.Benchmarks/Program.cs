using BenchmarkDotNet.Running;

// dotnet run -c Release --project benchmarks/UsageBilling.Benchmarks -- --filter '*'
// Every class has a baseline in the same process; read the Ratio column, not absolute times.
BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
