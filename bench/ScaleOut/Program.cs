// Scale-out benchmark (issue 15, item 9; docs/router.md): N PagedAttention.Server processes on loopback ports, the
// router in front, 8 agent groups with their own preamble, 16 requests per group arriving interleaved. Measures the
// prefix hit rate (cached_tokens / prompt_tokens), output tok/s and mean TTFT for one replica, prefix affinity and
// round-robin, then kills a replica mid-run.
//   dotnet build src/PagedAttention.Server -c Release && dotnet run --project bench/ScaleOut -c Release
using System.Text.Json;
using PagedAttention.Bench.ScaleOut;

var options = ScaleOutOptions.Parse(args);
if (options.Help)
{
    Console.WriteLine(ScaleOutOptions.Usage);
    return 0;
}

Console.WriteLine($"scale-out: {options.Replicas} replicas, {options.Groups} groups x {options.PerGroup} requests, preamble ~{options.PreambleTokens} tokens, " +
    $"{options.MaxTokens} output tokens, concurrency {options.Concurrency}, ε {options.LoadFactor}, {Environment.ProcessorCount} cores");
var results = await ScaleOutRunner.RunAsync(options, Console.Out, CancellationToken.None);
Console.WriteLine();
Console.WriteLine(ScaleOutRunner.Table(results));
if (options.Out is { } path)
{
    await File.WriteAllTextAsync(path, JsonSerializer.Serialize(results, new JsonSerializerOptions { WriteIndented = true }));
}

return 0;
