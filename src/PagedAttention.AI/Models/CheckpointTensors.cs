using System.Text.Json;
using PagedAttention.Kernels;

namespace PagedAttention.AI.Models;

/// <summary>
/// All tensors of a checkpoint directory: <c>model.safetensors</c>, or the shards listed in
/// <c>model.safetensors.index.json</c>. Owns the memory maps; weights handed out stay valid until disposal.
/// </summary>
internal sealed class CheckpointTensors : IDisposable
{
    private readonly List<SafeTensorsFile> _files = [];
    private readonly Dictionary<string, TensorInfo> _tensors = new(StringComparer.Ordinal);
    private readonly string _dir;

    private CheckpointTensors(string dir) => _dir = dir;

    public static CheckpointTensors Open(string dir)
    {
        var store = new CheckpointTensors(dir);
        try
        {
            string single = Path.Combine(dir, "model.safetensors");
            string index = Path.Combine(dir, "model.safetensors.index.json");
            if (File.Exists(single)) store.Add(SafeTensorsFile.Open(single));
            else if (File.Exists(index)) store.OpenShards(index);
            else throw new ModelLoadException(dir, null, "no model.safetensors or model.safetensors.index.json in the model directory.");
            return store;
        }
        catch
        {
            store.Dispose();
            throw;
        }
    }

    private void OpenShards(string index)
    {
        using (var doc = ModelFiles.ParseJson(index))
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object || !doc.RootElement.TryGetProperty("weight_map", out var map) || map.ValueKind != JsonValueKind.Object)
                throw new ModelLoadException(index, null, "missing 'weight_map' object.");
            var expected = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var p in map.EnumerateObject())
            {
                if (p.Value.ValueKind != JsonValueKind.String) throw new ModelLoadException(index, p.Name, "weight_map entry is not a file name.");
                string file = p.Value.GetString()!;
                if (!IsPlainFileName(file)) throw new ModelLoadException(index, p.Name, $"shard name '{file}' must be a plain file name in the model directory.");
                expected[p.Name] = file;
            }
            foreach (var file in expected.Values.Distinct().Order(StringComparer.Ordinal))
                Add(SafeTensorsFile.Open(Path.Combine(_dir, file)));
            foreach (var (name, file) in expected)
                if (!_tensors.TryGetValue(name, out var t) || Path.GetFileName(t.File) != file)
                    throw new ModelLoadException(Path.Combine(_dir, file), name, $"listed in {Path.GetFileName(index)} but not found in that shard.");
        }
    }

    // "", ".", ".." and names with separators or NULs would name the directory itself, a parent, or another place.
    private static bool IsPlainFileName(string name) =>
        name.Length > 0 && name is not ("." or "..") && !name.Contains("..", StringComparison.Ordinal)
        && name.IndexOfAny(['/', '\\', '\0']) < 0 && name.IndexOfAny(Path.GetInvalidFileNameChars()) < 0;

    /// <summary>
    /// Checks <paramref name="config"/>'s sizes against the tensors actually present (the embedding's shape, the number
    /// of layers) before anything is sized from them, so a config that claims more than the checkpoint holds fails naming both.
    /// </summary>
    public void CheckAgainst(ModelConfig config)
    {
        var embed = Get("model.embed_tokens.weight");
        if (embed.Shape.Length != 2 || embed.Shape[0] != config.VocabSize || embed.Shape[1] != config.HiddenSize)
            throw new ModelLoadException(embed.File, embed.Name,
                $"shape {embed.ShapeText} does not match config.json: vocab_size {config.VocabSize}, hidden_size {config.HiddenSize} (expected [{config.VocabSize}, {config.HiddenSize}]).");
        int layers = 0;
        while (layers < config.NumLayers && _tensors.ContainsKey($"model.layers.{layers}.input_layernorm.weight")) layers++;
        if (layers < config.NumLayers)
            throw new ModelLoadException(_files.Count == 1 ? _files[0].Path : _dir, $"model.layers.{layers}.input_layernorm.weight",
                $"missing tensor: config.json has num_hidden_layers {config.NumLayers} but the checkpoint holds {layers} layer{(layers == 1 ? "" : "s")}.");
    }

    private void Add(SafeTensorsFile file)
    {
        _files.Add(file);
        foreach (var (name, info) in file.Tensors)
            if (!_tensors.TryAdd(name, info)) throw new ModelLoadException(file.Path, name, $"also present in {_tensors[name].File}.");
    }

    public bool Contains(string name) => _tensors.ContainsKey(name);

    /// <summary>The tensor named <paramref name="name"/>; a missing tensor is a <see cref="ModelLoadException"/>.</summary>
    public TensorInfo Info(string name) => Get(name);

    private TensorInfo Get(string name) =>
        _tensors.TryGetValue(name, out var t) ? t
        : throw new ModelLoadException(_files.Count == 1 ? _files[0].Path : _dir, name, "missing tensor.");

    /// <summary>A 2-D weight of exactly [rows, cols], as a view into the mapped file.</summary>
    public WeightMatrix Matrix(string name, int rows, int cols)
    {
        var t = Get(name);
        if (t.Shape.Length != 2 || t.Shape[0] != rows || t.Shape[1] != cols)
            throw new ModelLoadException(t.File, name, $"wrong shape: expected [{rows}, {cols}], found {t.ShapeText}.");
        return new WeightMatrix(t.Data, t.DType("a weight matrix"), rows, cols);
    }

    /// <summary>A 1-D tensor of exactly <paramref name="length"/> elements, widened to float32 (norm weights and biases are small).</summary>
    public unsafe float[] Vector(string name, int length)
    {
        var t = Get(name);
        if (t.Shape.Length != 1 || t.Shape[0] != length)
            throw new ModelLoadException(t.File, name, $"wrong shape: expected [{length}], found {t.ShapeText}.");
        var w = new WeightMatrix(t.Data, t.DType("a vector"), 1, length);
        var result = new float[length];
        for (int i = 0; i < length; i++) result[i] = w[0, i];
        return result;
    }

    public void Dispose()
    {
        foreach (var f in _files) f.Dispose();
        _files.Clear();
    }
}
