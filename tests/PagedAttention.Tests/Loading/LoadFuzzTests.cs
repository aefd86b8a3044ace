using System.Buffers.Binary;
using System.Diagnostics;
using System.Text;
using System.Text.Json.Nodes;
using CsCheck;
using PagedAttention.AI.Engine;
using PagedAttention.AI.Models;
using PagedAttention.Text.Tokenization;

namespace PagedAttention.Tests.Loading;

/// <summary>
/// Property tests of the loader: random corruptions of a small checkpoint's safetensors header, config.json,
/// generation_config.json and tokenizer.json end in success or in the documented exception type, within a bounded
/// time and allocation per case. Sizes and seed: <see cref="FuzzSettings"/> (docs/reliability.md has the long-run command).
/// </summary>
public sealed class LoadFuzzTests : IDisposable
{
    private readonly ScratchModelDir _m = ScratchModelDir.Llama();
    private readonly byte[] _weights, _config, _generation;
    private readonly int _headerEnd;
    private readonly int[] _headerDigits;

    public LoadFuzzTests()
    {
        _weights = File.ReadAllBytes(_m.Weights);
        _config = File.ReadAllBytes(_m["config.json"]);
        _generation = File.ReadAllBytes(_m["generation_config.json"]);
        _headerEnd = 8 + (int)BinaryPrimitives.ReadUInt64LittleEndian(_weights);
        _headerDigits = Enumerable.Range(8, _headerEnd - 8).Where(i => _weights[i] is >= (byte)'0' and <= (byte)'9').ToArray();
    }

    public void Dispose() => _m.Dispose();

    /// <summary>Runs one case: success, or an exception of an allowed type; bounded time and allocation either way.</summary>
    internal static void Expect(Action load, params Type[] allowed)
    {
        long before = GC.GetAllocatedBytesForCurrentThread();
        var sw = Stopwatch.StartNew();
        try { load(); }
        catch (Exception e) when (allowed.Contains(e.GetType()))
        {
            Assert.False(string.IsNullOrWhiteSpace(e.Message));
        }
        Assert.True(sw.Elapsed < FuzzSettings.MaxTimePerCase, $"a case took {sw.Elapsed}");
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.True(allocated < FuzzSettings.MaxAllocatedBytesPerCase, $"a case allocated {allocated:N0} bytes");
    }

    private void LoadModel() => Expect(() => { using var model = LlamaModel.Load(_m.Dir); }, typeof(ModelLoadException));

    private void WriteWeights(byte[] bytes, int length)
    {
        using var f = new FileStream(_m.Weights, FileMode.Create, FileAccess.Write);
        f.Write(bytes, 0, length);
    }

    [Fact]
    public void SafeTensorsHeader_RandomByteEdits_DigitEdits_LengthFieldAndTruncation()
    {
        var byteEdit = Gen.Select(Gen.Int[0, _headerEnd - 1], Gen.Byte);
        var digitEdit = Gen.Select(Gen.Int[0, _headerDigits.Length - 1], Gen.Char['0', '9']);
        var gen = Gen.Select(byteEdit.Array[0, 3], digitEdit.Array[0, 3], Gen.Int[0, 5], Gen.Int[-9, 9], Gen.Int[0, _weights.Length]);
        gen.Sample((bytesEdits, digitEdits, mode, lengthDelta, cut) =>
        {
            var bytes = (byte[])_weights.Clone();
            foreach (var (at, b) in bytesEdits) bytes[at] = b;
            foreach (var (at, c) in digitEdits) bytes[_headerDigits[at]] = (byte)c;
            if (mode == 1) BinaryPrimitives.WriteUInt64LittleEndian(bytes, (ulong)(_headerEnd - 8 + lengthDelta));
            WriteWeights(bytes, mode == 0 ? cut : bytes.Length);
            LoadModel();
        }, seed: FuzzSettings.Seed(1), iter: FuzzSettings.Iterations(500), threads: 1);
    }

    private static readonly string[] NastyValues =
    [
        "2147483647", "-2147483648", "4294967296", "9223372036854775807", "1e999", "-1e999", "1e308", "-1", "0", "1", "2", "1.5",
        "-0.0", "1e-45", "99999", "4194304", "16777217", "\"x\"", "\"\"", "\"2\"", "true", "false", "null", "[]", "{}",
        "[1, 2]", "[99999]", "[-1]", "[\"a\"]", "[[]]", "{\"a\": 1}", "{\"rope_type\": \"llama3\", \"factor\": 1e999}",
        "{\"rope_type\": \"linear\", \"factor\": 0}", "[\"LlamaForCausalLM\"]", "[\"Qwen3ForCausalLM\"]",
    ];

    private static JsonNode? Nasty(int i) => JsonNode.Parse(NastyValues[i] is "1e999" or "-1e999" ? "0" : NastyValues[i]);

    [Fact]
    public void ConfigAndGenerationConfig_RandomFieldValues_ByteEdits()
    {
        var gen = Gen.Select(Gen.Bool, Gen.Int[0, 3], Gen.Int[0, 63], Gen.Int[0, NastyValues.Length - 1], Gen.Select(Gen.Int[0, 4095], Gen.Byte).Array[1, 4]);
        gen.Sample((generation, mode, field, value, byteEdits) =>
        {
            string file = generation ? "generation_config.json" : "config.json";
            byte[] original = generation ? _generation : _config;
            File.WriteAllBytes(_m["config.json"], _config);
            File.WriteAllBytes(_m["generation_config.json"], _generation);
            byte[] mutated;
            if (mode == 0)
            {
                mutated = (byte[])original.Clone();
                foreach (var (at, b) in byteEdits) mutated[at % mutated.Length] = b;
            }
            else
            {
                var root = JsonNode.Parse(original)!.AsObject();
                var owner = mode == 3 && root["rope_parameters"] is JsonObject rope ? rope : root;
                var keys = owner.Select(p => p.Key).ToArray();
                string key = keys.Length == 0 ? "eos_token_id" : keys[field % keys.Length];
                if (mode == 1) owner.Remove(key);
                else owner[key] = Nasty(value);
                string text = root.ToJsonString();
                // Raw numbers JsonNode cannot hold (1e999) go in as text.
                if (mode == 2 && NastyValues[value] is "1e999" or "-1e999")
                    text = text[..^1] + (text.Length > 2 ? "," : "") + $"\"{key}\":{NastyValues[value]}}}";
                mutated = Encoding.UTF8.GetBytes(text);
            }
            File.WriteAllBytes(_m[file], mutated);
            LoadModel();
        }, seed: FuzzSettings.Seed(2), iter: FuzzSettings.Iterations(800), threads: 1);
    }

    [Fact]
    public void TokenizerJson_RandomNodeEdits_LoadOrFailWithTokenizerLoadException()
    {
        var fuzz = new TokenizerJsonFuzzer(TokenizerJsonFuzzer.SmallDefaultTokenizer());
        Gen.Int.Sample(seed =>
        {
            string json = fuzz.Mutate(new Random(seed));
            Expect(() =>
            {
                var tok = Tokenizer.FromJson(json);
                // What loads must also work: encoding and decoding a little text may not throw either.
                var ids = tok.Encode("Hello world, <|bos|> 12 héllo", addSpecialTokens: true);
                tok.Decode(ids);
                var decoder = tok.CreateDecoder(skipSpecialTokens: true);
                foreach (int id in ids) decoder.Append(id);
                decoder.Flush();
            }, typeof(TokenizerLoadException));
        }, seed: FuzzSettings.Seed(3), iter: FuzzSettings.Iterations(2000), threads: 1);
    }

    [Fact]
    public void TokenizerFiles_RandomNodeEdits_ThroughTheLoader_AreModelLoadExceptionsNamingTheFile()
    {
        using var d = ScratchModelDir.Default();
        var fuzz = new TokenizerJsonFuzzer(TokenizerJsonFuzzer.SmallDefaultTokenizer());
        var config = new TokenizerJsonFuzzer(JsonNode.Parse(File.ReadAllText(d["tokenizer_config.json"]))!.AsObject());
        Gen.Select(Gen.Int, Gen.Bool).Sample((seed, editConfig) =>
        {
            var r = new Random(seed);
            File.WriteAllText(d["tokenizer.json"], editConfig ? fuzz.Original : fuzz.Mutate(r));
            File.WriteAllText(d["tokenizer_config.json"], editConfig ? config.Mutate(r) : config.Original);
            Expect(() =>
            {
                try { EngineLoader.LoadTokenizer(d.Dir); }
                catch (ModelLoadException e)
                {
                    Assert.IsType<TokenizerLoadException>(e.InnerException);
                    Assert.Contains(editConfig ? "tokenizer_config.json" : "tokenizer.json", e.FilePath);
                    throw;
                }
            }, typeof(ModelLoadException));
        }, seed: FuzzSettings.Seed(4), iter: FuzzSettings.Iterations(300), threads: 1);
    }
}
