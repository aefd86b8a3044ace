using System.Text.Json;
using PagedAttention.AI.Models;
using PagedAttention.AI.Models.Cuda;

// Teacher-forced top-1 of the CUDA backend on a checkpoint, for comparison with transformers on the same GPU
// (tools/fidelity/teacher_forced.py writes the token sequences and the reference, and compares).
// usage: GpuFidelity --model DIR --tokens tokens.json --out engine.json
// tokens.json: {"sequences": [[ids...], ...]}; engine.json: {"top1": [[...], ...], "margin": [[...], ...]} where top1[s][i]
// is the argmax after tokens[s][0..i] and margin is the engine's own top-1 minus top-2 logit there.
string? model = null, tokensPath = null, outPath = null;
for (int i = 0; i < args.Length; i++)
{
    switch (args[i])
    {
        case "--model": model = args[++i]; break;
        case "--tokens": tokensPath = args[++i]; break;
        case "--out": outPath = args[++i]; break;
        default: Console.Error.WriteLine($"unknown option {args[i]}"); return 2;
    }
}
if (model is null || tokensPath is null || outPath is null) { Console.Error.WriteLine("usage: GpuFidelity --model DIR --tokens tokens.json --out engine.json"); return 2; }

using var doc = JsonDocument.Parse(File.ReadAllBytes(tokensPath));
int[][] seqs = doc.RootElement.GetProperty("sequences").EnumerateArray().Select(s => s.EnumerateArray().Select(e => e.GetInt32()).ToArray()).ToArray();
int n = seqs.Length, len = seqs.Min(s => s.Length);
const int blockSize = 16;
int maxBlocks = (len + blockSize) / blockSize + 1;

using var m = CudaLlamaModel.Load(model, PagedAttention.Kernels.RuntimeSwitches.FromEnvironment());
int vocab = m.Config.VocabSize;
var batch = new ForwardBatch(n, n, maxBlocks);
m.ConfigureSteps(n, n, maxBlocks, len + blockSize, cudaGraphs: false);
using var cache = m.CreateKvCache(n * maxBlocks, blockSize);
for (int s = 0; s < n; s++)
    for (int b = 0; b < maxBlocks; b++) batch.BlockTables[s * maxBlocks + b] = s * maxBlocks + (maxBlocks - 1 - b);
var logits = new float[n * vocab];
var top1 = new int[n][];
var margin = new float[n][];
for (int s = 0; s < n; s++) { top1[s] = new int[len]; margin[s] = new float[len]; }

// Position p: feed token p of every sequence (teacher forcing), read the logits of the next token.
for (int p = 0; p < len; p++)
{
    batch.NumSeqs = n;
    batch.NumTokens = n;
    for (int s = 0; s < n; s++)
    {
        batch.QueryStarts[s] = s;
        batch.TokenIds[s] = seqs[s][p];
        batch.Positions[s] = p;
        batch.SlotMapping[s] = batch.BlockTables[s * maxBlocks + p / blockSize] * blockSize + p % blockSize;
        batch.ContextLens[s] = p + 1;
    }
    batch.QueryStarts[n] = n;
    m.Forward(batch, cache, logits);
    for (int s = 0; s < n; s++)
    {
        var row = logits.AsSpan(s * vocab, vocab);
        int best = 0;
        float b1 = float.NegativeInfinity, b2 = float.NegativeInfinity;
        for (int v = 0; v < vocab; v++)
        {
            float x = row[v];
            if (x > b1) { b2 = b1; b1 = x; best = v; }
            else if (x > b2) b2 = x;
        }
        top1[s][p] = best;
        margin[s][p] = b1 - b2;
    }
}
File.WriteAllText(outPath, JsonSerializer.Serialize(new { model, device = m.Device.Name, positions = n * len, top1, margin }));
Console.WriteLine($"GpuFidelity: {n} sequences x {len} positions written to {outPath}");
return 0;
