using PagedAttention.AI.Engine;

namespace PagedAttention.Samples.SemanticKernel;

/// <summary>Command-line options: --model DIR, --device cpu|cuda, --histories N, --max-tokens N, --kv-blocks N, --quantize int8|int4.</summary>
internal sealed record SampleOptions(string ModelPath, string Device, int Histories, int MaxTokens, int? KvBlocks, WeightQuantization Quantize = WeightQuantization.None)
{
    public static SampleOptions? Parse(string[] args, TextWriter output)
    {
        string? model = null, device = "cpu";
        int histories = 8, maxTokens = 32;
        int? kvBlocks = null;
        var quantize = WeightQuantization.None;
        for (int i = 0; i < args.Length; i++)
        {
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value.");
            switch (args[i])
            {
                case "--model": model = Next(); break;
                case "--device": device = Next(); break;
                case "--histories": histories = int.Parse(Next()); break;
                case "--max-tokens": maxTokens = int.Parse(Next()); break;
                case "--kv-blocks": kvBlocks = int.Parse(Next()); break;
                case "--quantize":
                    string q = Next();
                    WeightQuantization? parsed = q switch { "int8" => WeightQuantization.Int8, "int4" => WeightQuantization.Int4, "none" => WeightQuantization.None, _ => null };
                    if (parsed is null) { Console.Error.WriteLine($"--quantize must be int8, int4 or none, got '{q}'"); return null; }
                    quantize = parsed.Value;
                    break;
                case "-h" or "--help":
                    output.WriteLine("usage: dotnet run --project samples/semantic-kernel [--model DIR] [--device cpu|cuda] [--histories N] [--max-tokens N] [--kv-blocks N] [--quantize int8|int4]");
                    return null;
                default:
                    Console.Error.WriteLine($"unknown option '{args[i]}' (try --help)");
                    return null;
            }
        }
        model ??= FindDefaultModel();
        if (model is null)
        {
            Console.Error.WriteLine("The embedded default model (models/default) was not found; pass --model DIR.");
            return null;
        }
        if (histories < 1) { Console.Error.WriteLine("--histories must be >= 1"); return null; }
        return new SampleOptions(model, device!, histories, maxTokens, kvBlocks, quantize);
    }

    /// <summary>The repository's models/default, found from the working directory or the program's location.</summary>
    private static string? FindDefaultModel()
    {
        foreach (var start in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                string candidate = Path.Combine(dir.FullName, "models", "default");
                if (File.Exists(Path.Combine(candidate, "config.json"))) return candidate;
            }
        }
        return null;
    }
}
