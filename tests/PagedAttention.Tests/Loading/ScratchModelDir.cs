using System.Buffers.Binary;
using System.Text;
using System.Text.Json.Nodes;

namespace PagedAttention.Tests.Loading;

/// <summary>A temporary copy of a model directory that a test may corrupt; deleted on dispose.</summary>
internal sealed class ScratchModelDir : IDisposable
{
    public ScratchModelDir(string source)
    {
        Dir = Path.Combine(Path.GetTempPath(), "pa-load-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Dir);
        foreach (var f in Directory.GetFiles(source))
            if (Path.GetFileName(f) != "golden.json") File.Copy(f, Path.Combine(Dir, Path.GetFileName(f)));
    }

    /// <summary>The tiny float32 Llama test checkpoint (no tokenizer): the cheapest full load.</summary>
    public static ScratchModelDir Llama() => new(TestData.Model("llama"));

    /// <summary>The shipped default model (with tokenizer.json and tokenizer_config.json).</summary>
    public static ScratchModelDir Default() => new(Chat.ChatClientTests.DefaultModel);

    public string Dir { get; }

    public string this[string file] => Path.Combine(Dir, file);

    public string Weights => this["model.safetensors"];

    /// <summary>The header object and the data section of model.safetensors.</summary>
    public (JsonObject Header, byte[] Data) ReadSafeTensors()
    {
        var bytes = File.ReadAllBytes(Weights);
        int n = (int)BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        return (JsonNode.Parse(Encoding.UTF8.GetString(bytes, 8, n))!.AsObject(), bytes[(8 + n)..]);
    }

    public void WriteSafeTensors(JsonObject header, byte[] data, int padding = 0, long? lengthField = null) =>
        WriteSafeTensorsRaw(Encoding.UTF8.GetBytes(header.ToJsonString() + new string(' ', padding)), data, lengthField);

    public void WriteSafeTensorsRaw(byte[] header, byte[] data, long? lengthField = null)
    {
        var bytes = new byte[8 + header.Length + data.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, (ulong)(lengthField ?? header.Length));
        header.CopyTo(bytes, 8);
        data.CopyTo(bytes, 8 + header.Length);
        File.WriteAllBytes(Weights, bytes);
    }

    public void EditJson(string file, Action<JsonObject> edit)
    {
        var node = JsonNode.Parse(File.ReadAllText(this[file]))!.AsObject();
        edit(node);
        File.WriteAllText(this[file], node.ToJsonString());
    }

    /// <summary>Replaces <paramref name="file"/> by a symbolic link to <paramref name="target"/>.</summary>
    public void Symlink(string file, string target)
    {
        File.Delete(this[file]);
        File.CreateSymbolicLink(this[file], target);
    }

    public void Dispose()
    {
        try { Directory.Delete(Dir, recursive: true); }
        catch (IOException) { } // a link loop or a mapped file on another platform: leave it to the temp cleaner
    }
}
