using System.Globalization;

namespace PagedAttention.Bench.ScaleOut;

/// <summary>The bench's settings; <see cref="Parse"/> reads <c>--name value</c> pairs (see <see cref="Usage"/>).</summary>
internal sealed class ScaleOutOptions
{
    public const string Usage = """
        dotnet run --project bench/ScaleOut -c Release -- [options]
          --server-dll PATH      PagedAttention.Server.dll (default: src/PagedAttention.Server/bin/Release/net10.0/)
          --tokenizer PATH       tokenizer.json used to size the preambles (default: models/default/tokenizer.json)
          --replicas N           server processes (4)
          --groups N             agent groups, one preamble each (8)
          --per-group N          requests per group (16)
          --preamble-tokens N    preamble length in tokens (1500)
          --max-tokens N         output tokens per request (16, ignore_eos)
          --concurrency N        requests in flight at once (32)
          --load-factor E        ε of the bounded-load ring (1.0, the router's default)
          --phases LIST          single,affinity,roundrobin,kill (all); affinity@E is affinity with ε = E
          --kill-after F         the kill phase kills a replica after this fraction of its requests finished (0.3)
          --server-arg ARG       passed to every server (repeatable)
          --server-env K=V       environment variable of every server (repeatable), e.g. PAGEDATTENTION_CPU_THREADS=1
          --timeout-s N          the deadline of each phase (600)
          --out PATH             also write the results as JSON
        """;

    public string? ServerDll { get; set; }

    public string? Tokenizer { get; set; }

    public int Replicas { get; set; } = 4;

    public int Groups { get; set; } = 8;

    public int PerGroup { get; set; } = 16;

    public int PreambleTokens { get; set; } = 1500;

    public int MaxTokens { get; set; } = 16;

    public int Concurrency { get; set; } = 32;

    public double LoadFactor { get; set; } = 1.0;

    public List<string> Phases { get; set; } = ["single", "affinity", "roundrobin", "kill"];

    public double KillAfter { get; set; } = 0.3;

    public List<string> ServerArgs { get; set; } = [];

    public List<string> ServerEnv { get; set; } = [];

    public int TimeoutSeconds { get; set; } = 600;

    public string? Out { get; set; }

    public int Seed { get; set; } = 15;

    public bool Help { get; set; }

    public static ScaleOutOptions Parse(string[] args)
    {
        var o = new ScaleOutOptions();
        for (var i = 0; i < args.Length; i++)
        {
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value.");
            int Int() => int.Parse(Next(), CultureInfo.InvariantCulture);
            switch (args[i])
            {
                case "--server-dll": o.ServerDll = Next(); break;
                case "--tokenizer": o.Tokenizer = Next(); break;
                case "--replicas": o.Replicas = Int(); break;
                case "--groups": o.Groups = Int(); break;
                case "--per-group": o.PerGroup = Int(); break;
                case "--preamble-tokens": o.PreambleTokens = Int(); break;
                case "--max-tokens": o.MaxTokens = Int(); break;
                case "--concurrency": o.Concurrency = Int(); break;
                case "--load-factor": o.LoadFactor = double.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--phases": o.Phases = [.. Next().Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)]; break;
                case "--kill-after": o.KillAfter = double.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--server-arg": o.ServerArgs.Add(Next()); break;
                case "--server-env": o.ServerEnv.Add(Next()); break;
                case "--timeout-s": o.TimeoutSeconds = Int(); break;
                case "--out": o.Out = Next(); break;
                case "--seed": o.Seed = Int(); break;
                case "-h" or "--help": o.Help = true; break;
                default: throw new ArgumentException($"unknown option {args[i]}\n{Usage}");
            }
        }

        string[] known = ["single", "affinity", "roundrobin", "kill"];
        if (o.Phases.FirstOrDefault(p => !known.Contains(p) && PhaseLoadFactor(p) is null) is { } bad)
        {
            throw new ArgumentException($"unknown phase {bad}; phases are {string.Join(",", known)} or affinity@ε");
        }

        if (o.Replicas < 2 || o.Groups < 1 || o.PerGroup < 1 || o.Concurrency < 1 || o.PreambleTokens < 1 || o.MaxTokens < 1)
        {
            throw new ArgumentException("--replicas must be >= 2 and the counts >= 1.");
        }

        return o;
    }

    /// <summary>The ε of a phase named <c>affinity@ε</c> (affinity with its own load factor), or null.</summary>
    public static double? PhaseLoadFactor(string phase) =>
        phase.StartsWith("affinity@", StringComparison.Ordinal) &&
        double.TryParse(phase["affinity@".Length..], NumberStyles.Float, CultureInfo.InvariantCulture, out var e) && e >= 0 ? e : null;

    /// <summary>The repository root: the first folder above the program that holds Provider.sln.</summary>
    public static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Provider.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("Provider.sln not found above " + AppContext.BaseDirectory);
    }
}
