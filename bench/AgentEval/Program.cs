using System.Diagnostics;
using System.IO.Compression;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.AI;
using PagedAttention.AI;
using PagedAttention.AI.Engine;
using PagedAttention.AI.Models;
using PagedAttention.Text.Tokenization;

namespace AgentEval;

/// <summary>
/// The held-out agent tasks (bench/AgentEval/heldout.json, made by tools/agent-corpus/generate.py heldout) through
/// the engine's IChatClient on the CPU, greedy: document answers (exact match), tool selection and argument exact
/// match, no-tool precision, JSON validity with and without the structured-output engine; and the per-token
/// perplexity on the held-out Brown text (tools/train-tiny/brown/valid.txt.gz).
///
///   dotnet run -c Release --project bench/AgentEval -- [--model DIR] [--limit N] [--no-ppl] [--ppl-chunks N] [--out F]
///        [--no-tasks] [--speed]   (--speed: load time in this process and single-stream greedy decode tokens/s)
/// </summary>
internal static class Program
{
    private static async Task<int> Main(string[] args)
    {
        string? model = null, outPath = null;
        string heldout = Path.Combine(AppContext.BaseDirectory, "heldout.json");
        string brown = Path.Combine(AppContext.BaseDirectory, "brown-valid.txt.gz");
        int limit = int.MaxValue, pplChunks = int.MaxValue, threads = 0;
        bool ppl = true, tasks = true, speed = false;
        for (int i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--model": model = args[++i]; break;
                case "--heldout": heldout = args[++i]; break;
                case "--brown": brown = args[++i]; break;
                case "--limit": limit = int.Parse(args[++i], System.Globalization.CultureInfo.InvariantCulture); break;
                case "--ppl-chunks": pplChunks = int.Parse(args[++i], System.Globalization.CultureInfo.InvariantCulture); break;
                case "--no-ppl": ppl = false; break;
                case "--no-tasks": tasks = false; break;
                case "--speed": speed = true; break;
                case "--ppl-verbose": Perplexity.Verbose = true; break;
                case "--ppl-len": Perplexity.PplLen = int.Parse(args[++i], System.Globalization.CultureInfo.InvariantCulture); break;
                case "--out": outPath = args[++i]; break;
                case "--threads": threads = int.Parse(args[++i], System.Globalization.CultureInfo.InvariantCulture); break;
                default:
                    Console.Error.WriteLine($"unknown argument {args[i]}; see the comment at the top of bench/AgentEval/Program.cs");
                    return 2;
            }
        }
        _ = threads;
        var sw = Stopwatch.StartNew();
        await using var engine = await LlmEngine.LoadAsync(new EngineOptions { ModelPath = model ?? "", MaxNumSeqs = 8, NumKvBlocks = 1024 }).ConfigureAwait(false);
        string dir = engine.Model.Directory;
        Console.WriteLine($"model {dir}: loaded in {sw.Elapsed.TotalSeconds:F2} s");
        var report = new JsonObject { ["model"] = dir, ["machine"] = $"{Environment.ProcessorCount} CPUs, {System.Runtime.InteropServices.RuntimeInformation.OSDescription}" };
        report["load_seconds"] = Math.Round(sw.Elapsed.TotalSeconds, 3);
        if (speed) report["single_stream"] = await Speed.RunAsync(engine).ConfigureAwait(false);
        if (tasks)
        {
            using IChatClient client = engine.AsChatClient();
            report["tasks"] = await HeldoutEval.RunAsync(client, heldout, limit).ConfigureAwait(false);
        }
        if (ppl) report["brown_valid"] = Perplexity.Run(dir, brown, pplChunks);
        string json = report.ToJsonString(new JsonSerializerOptions { WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
        Console.WriteLine(json);
        if (outPath is not null) await File.WriteAllTextAsync(outPath, json + "\n").ConfigureAwait(false);
        return 0;
    }
}

/// <summary>Tallies of one metric.</summary>
internal sealed class Tally
{
    public int Correct { get; set; }
    public int Total { get; set; }
    public void Add(bool ok) { Total++; if (ok) Correct++; }
    public JsonObject ToJson() => new() { ["correct"] = Correct, ["total"] = Total, ["rate"] = Total == 0 ? null : Math.Round((double)Correct / Total, 4) };
}

/// <summary>The held-out cases through an <see cref="IChatClient"/>.</summary>
internal static class HeldoutEval
{
    public static async Task<JsonObject> RunAsync(IChatClient client, string path, int limitPerKind)
    {
        var root = JsonNode.Parse(await File.ReadAllTextAsync(path).ConfigureAwait(false))!.AsObject();
        var docs = root["documents"]!.AsArray().ToDictionary(d => (int)d!["id"]!, d => (string)d!["system"]!);
        var t = new Dictionary<string, Tally>(StringComparer.Ordinal);
        Tally T(string k) => t.TryGetValue(k, out var x) ? x : t[k] = new Tally();
        var perKind = new Dictionary<string, int>(StringComparer.Ordinal);
        var failures = new JsonArray();
        var sw = Stopwatch.StartNew();
        long outTokens = 0;
        foreach (var node in root["cases"]!.AsArray())
        {
            var c = node!.AsObject();
            string kind = (string)c["kind"]!;
            perKind[kind] = perKind.GetValueOrDefault(kind) + 1;
            if (perKind[kind] > limitPerKind) continue;
            string? system = kind == "doc_qa" ? docs[(int)c["doc"]!] : (string?)c["system"];
            var messages = new List<ChatMessage>();
            if (system is not null) messages.Add(new ChatMessage(ChatRole.System, system));
            messages.Add(new ChatMessage(ChatRole.User, (string)c["user"]!));
            var tools = c["tools"] is JsonArray ta ? Tools(ta) : null;
            var options = new ChatOptions { Temperature = 0, MaxOutputTokens = kind is "tool_two" or "json" ? 160 : 96, Tools = tools };
            var r = await client.GetResponseAsync(messages, options).ConfigureAwait(false);
            outTokens += r.Usage?.OutputTokenCount ?? 0;
            var calls = r.Messages.SelectMany(m => m.Contents).OfType<FunctionCallContent>().ToList();
            string text = r.Text.Trim();
            bool ok;
            switch (kind)
            {
                case "doc_qa":
                    ok = text == (string)c["answer"]!;
                    T("doc_answer_exact").Add(ok);
                    T($"doc_answer_exact/{(string)c["qtype"]!}").Add(ok);
                    break;
                case "tool_one":
                case "tool_two":
                {
                    var expected = c["calls"]!.AsArray();
                    bool names = calls.Select(x => x.Name).SequenceEqual(expected.Select(e => (string)e!["name"]!));
                    bool argsOk = names && calls.Zip(expected).All(p => JsonNode.DeepEquals(Arguments(p.First), p.Second!["arguments"]));
                    T("tool_selection").Add(names);
                    T("tool_arguments_exact").Add(argsOk);
                    T($"tool_selection/{kind}").Add(names);
                    T($"tool_arguments_exact/{kind}").Add(argsOk);
                    ok = argsOk;
                    if (argsOk && kind == "tool_one")
                    {
                        // second turn: the tool's result -> the answer
                        var results = c["results"]!.AsArray();
                        messages.AddRange(r.Messages);
                        messages.Add(new ChatMessage(ChatRole.Tool, [new FunctionResultContent(calls[0].CallId, (string)results[0]!)]));
                        var r2 = await client.GetResponseAsync(messages, options).ConfigureAwait(false);
                        outTokens += r2.Usage?.OutputTokenCount ?? 0;
                        T("answer_from_tool_result_exact").Add(r2.Text.Trim() == (string)c["answer"]!);
                    }
                    text = calls.Count > 0 ? string.Join("; ", calls.Select(x => $"{x.Name}({Arguments(x).ToJsonString()})")) : text;
                    break;
                }
                case "tool_none":
                    ok = calls.Count == 0;
                    T("no_tool_precision").Add(ok);
                    break;
                case "json":
                {
                    var schema = c["schema"]!;
                    ok = JsonCheck(text, schema, c["object"]!, T("json_valid_unconstrained"), T("json_exact_unconstrained"));
                    var structured = new ChatOptions
                    {
                        Temperature = 0, MaxOutputTokens = 160,
                        ResponseFormat = ChatResponseFormat.ForJsonSchema(JsonDocument.Parse(schema.ToJsonString()).RootElement, "result"),
                    };
                    var rs = await client.GetResponseAsync(messages, structured).ConfigureAwait(false);
                    outTokens += rs.Usage?.OutputTokenCount ?? 0;
                    JsonCheck(rs.Text.Trim(), schema, c["object"]!, T("json_valid_structured"), T("json_exact_structured"));
                    break;
                }
                default:
                    throw new InvalidDataException($"unknown case kind {kind}");
            }
            if (!ok && failures.Count < 40)
                failures.Add(new JsonObject { ["id"] = (string)c["id"]!, ["user"] = (string)c["user"]!, ["expected"] = c["answer"]?.DeepClone() ?? c["calls"]?.DeepClone(), ["got"] = text });
        }
        var result = new JsonObject();
        foreach (var (k, v) in t.OrderBy(kv => kv.Key, StringComparer.Ordinal)) result[k] = v.ToJson();
        result["seconds"] = Math.Round(sw.Elapsed.TotalSeconds, 1);
        result["output_tokens"] = outTokens;
        result["first_failures"] = failures;
        foreach (var (k, v) in t.Where(kv => !kv.Key.Contains('/')).OrderBy(kv => kv.Key, StringComparer.Ordinal))
            Console.WriteLine($"{k,-32} {v.Correct,4}/{v.Total,-4} {(v.Total == 0 ? 0 : 100.0 * v.Correct / v.Total),6:F1} %");
        return result;
    }

    private static List<AITool> Tools(JsonArray tools) =>
        [.. tools.Select(x =>
        {
            var f = x!["function"]!;
            return (AITool)AIFunctionFactory.CreateDeclaration((string)f["name"]!, (string?)f["description"], JsonDocument.Parse(f["parameters"]!.ToJsonString()).RootElement);
        })];

    private static JsonNode Arguments(FunctionCallContent call) => JsonSerializer.SerializeToNode(call.Arguments ?? new Dictionary<string, object?>()) ?? new JsonObject();

    private static bool JsonCheck(string text, JsonNode schema, JsonNode expected, Tally valid, Tally exact)
    {
        JsonNode? got;
        bool v, e;
        try
        {
            got = JsonNode.Parse(text);
            v = got is not null && SchemaSubset.Valid(got, schema);
            e = v && JsonNode.DeepEquals(got, expected);
        }
        catch (Exception ex) when (ex is JsonException or ArgumentException or InvalidOperationException)
        {
            v = e = false; // not JSON, or an object with a duplicate member
        }
        valid.Add(v);
        exact.Add(e);
        return e;
    }
}

/// <summary>The JSON Schema subset the generator writes: an object with required properties of type string,
/// integer, number, boolean, an enum of strings, or an array of strings; no other members.</summary>
internal static class SchemaSubset
{
    public static bool Valid(JsonNode node, JsonNode schema)
    {
        if (node is not JsonObject o) return false;
        var props = schema["properties"]!.AsObject();
        if (o.Count != props.Count) return false;
        foreach (var (name, spec) in props)
        {
            if (!o.TryGetPropertyValue(name, out var v) || v is null) return false;
            string type = (string)spec!["type"]!;
            var kind = v.GetValueKind();
            bool ok = type switch
            {
                "string" => kind == JsonValueKind.String,
                "integer" => kind == JsonValueKind.Number && v.AsValue().TryGetValue(out long _) ,
                "number" => kind == JsonValueKind.Number,
                "boolean" => kind is JsonValueKind.True or JsonValueKind.False,
                "array" => v is JsonArray a && a.All(x => x?.GetValueKind() == JsonValueKind.String),
                _ => false,
            };
            if (!ok) return false;
            if (spec["enum"] is JsonArray e && !e.Any(x => JsonNode.DeepEquals(x, v))) return false;
        }
        return true;
    }
}

/// <summary>
/// Per-token perplexity on held-out Brown text, as the training script measures it: every paragraph as
/// <c>&lt;|bos|&gt; text &lt;|eos|&gt;</c>, concatenated, cut into 1,025-token chunks, 1,024 predictions per chunk. One
/// forward per chunk: each position is its own one-token sequence over the chunk's shared blocks (the K/V of a
/// step are written before attention reads them), so the logits of every position come out of one step.
/// </summary>
internal static class Perplexity
{
    /// <summary>Tokens predicted per chunk (1,024 as in training's evaluation).</summary>
    public static int PplLen { get; set; } = 1024;

    /// <summary>Print the running perplexity after each chunk.</summary>
    public static bool Verbose { get; set; }

    public static JsonObject Run(string modelDir, string textGz, int maxChunks)
    {
        var sw = Stopwatch.StartNew();
        var tok = Tokenizer.FromFile(modelDir);
        var paragraphs = new List<string>();
        using (var gz = new GZipStream(File.OpenRead(textGz), CompressionMode.Decompress))
        using (var reader = new StreamReader(gz, Encoding.UTF8))
            for (string? line; (line = reader.ReadLine()) is not null;)
                if (line.Trim().Length > 0) paragraphs.Add(line.Trim());
        int bos = tok.BosTokenId ?? throw new InvalidDataException("no bos token");
        int eos = tok.EosTokenId ?? throw new InvalidDataException("no eos token");
        var flat = new List<int>();
        foreach (var p in paragraphs) { flat.Add(bos); flat.AddRange(tok.Encode(p, addSpecialTokens: false)); flat.Add(eos); }
        int T = PplLen, block = 16, blocks = T / block + 1;
        using var model = LlamaModel.Load(modelDir);
        using var cache = model.CreateKvCache(blocks, block);
        int v = model.Config.VocabSize;
        var batch = new ForwardBatch(T, T, blocks);
        var logits = new float[T * v];
        double nll = 0;
        long n = 0;
        int chunks = 0;
        for (int start = 0; start + 1 < flat.Count && chunks < maxChunks; start += T + 1, chunks++)
        {
            int len = Math.Min(T + 1, flat.Count - start);
            int q = len - 1;
            batch.NumSeqs = q;
            batch.NumTokens = q;
            for (int i = 0; i < q; i++)
            {
                batch.TokenIds[i] = flat[start + i];
                batch.Positions[i] = i;
                batch.SlotMapping[i] = i;              // block i / 16, offset i % 16: blocks 0.. in order
                batch.QueryStarts[i] = i;
                batch.ContextLens[i] = i + 1;
                for (int b = 0; b < blocks; b++) batch.BlockTables[i * blocks + b] = b;
            }
            batch.QueryStarts[q] = q;
            model.Forward(batch, cache, logits);
            for (int i = 0; i < q; i++)
            {
                var row = logits.AsSpan(i * v, v);
                float max = float.NegativeInfinity;
                foreach (float x in row) max = MathF.Max(max, x);
                double sum = 0;
                foreach (float x in row) sum += Math.Exp(x - max);
                nll += Math.Log(sum) + max - row[flat[start + i + 1]];
            }
            n += q;
            if (Verbose) Console.WriteLine($"  chunk {chunks}: running ppl {Math.Exp(nll / n):F2}");
        }
        double perTok = nll / n;
        int chars = paragraphs.Sum(p => p.Length);
        var result = new JsonObject
        {
            ["paragraphs"] = paragraphs.Count, ["chunks"] = chunks, ["predicted_tokens"] = n, ["nats_per_token"] = Math.Round(perTok, 4),
            ["perplexity"] = Math.Round(Math.Exp(perTok), 2),
            ["seconds"] = Math.Round(sw.Elapsed.TotalSeconds, 1),
        };
        if (chunks * (T + 1) >= flat.Count)
        {
            // the whole split: the same total loss over the old default model's 83,418 predicted tokens of this text
            result["perplexity_at_83418_tokens"] = Math.Round(Math.Exp(nll / 83418), 2);
            result["chars_per_token"] = Math.Round((double)chars / n, 3);
        }
        Console.WriteLine($"Brown valid: {n} tokens in {chunks} chunks, perplexity {Math.Exp(perTok):F2} ({sw.Elapsed.TotalSeconds:F1} s)");
        return result;
    }
}

/// <summary>Single-stream greedy decode speed: 128 tokens after a 16-token prompt, eos ignored, 5 rounds, the median.</summary>
internal static class Speed
{
    public static async Task<JsonObject> RunAsync(LlmEngine engine)
    {
        int[] prompt = [.. Enumerable.Range(0, 16).Select(i => 20 + i * 7)];
        var rates = new List<double>();
        for (int round = 0; round < 6; round++)
        {
            var sw = Stopwatch.StartNew();
            int n = 0;
            await foreach (var _ in engine.GenerateAsync(prompt, new PagedAttention.AI.Sampling.SamplingParams { Temperature = 0, MaxTokens = 128, IgnoreEos = true }).ConfigureAwait(false)) n++;
            if (round > 0) rates.Add(n / sw.Elapsed.TotalSeconds); // round 0 warms up
        }
        rates.Sort();
        Console.WriteLine($"single stream: {rates[rates.Count / 2]:F1} tok/s (median of {rates.Count})");
        return new JsonObject { ["tokens_per_second_median"] = Math.Round(rates[rates.Count / 2], 1), ["rounds"] = new JsonArray([.. rates.Select(r => (JsonNode)Math.Round(r, 1))]) };
    }
}
