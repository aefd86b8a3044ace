using System.Diagnostics;
using System.Text.Json;
using Microsoft.Extensions.Logging;

namespace PagedAttention.AI.Engine;

/// <summary>
/// The Information-level lines of a load: what is being loaded, then one summary (model, architecture, dtype, device,
/// KV blocks and bytes, limits, load time) — what an operator reads in the host's log to see which model came up and
/// how big its cache is. Goes through <see cref="GuardedLogger"/>: a throwing logger never fails a load.
/// </summary>
internal sealed class EngineLoadLog
{
    private readonly ILogger? _logger;
    private readonly long _start = Stopwatch.GetTimestamp();

    /// <summary>Logs the start of a load (nothing without <see cref="EngineOptions.Logger"/>).</summary>
    public EngineLoadLog(EngineOptions options)
    {
        if (options.Logger is null) return;
        _logger = new GuardedLogger(options.Logger);
        _logger.LogInformation("PagedAttention: loading model {ModelPath} on {Device}",
            string.IsNullOrWhiteSpace(options.ModelPath) ? "(default model)" : options.ModelPath, options.Device);
    }

    /// <summary>Logs the summary of a finished load.</summary>
    public void Loaded(LlmEngine engine, EngineOptions options)
    {
        if (_logger is null || !_logger.IsEnabled(LogLevel.Information)) return;
        var c = engine.Model.Config;
        long kvBytes = engine.NumKvBlocks * engine.KvBytesPerBlock; // the backend's own element size (CPU fp32, CUDA bf16 or FP8)
        _logger.LogInformation(
            "PagedAttention: loaded {Model} ({Architecture}, {DType}, {Layers} layers) from {Directory} on {Device} in {LoadMs} ms; " +
            "KV cache {KvBlocks} blocks x {BlockSize} tokens = {KvTokens} tokens ({KvMiB} MiB); max model len {MaxModelLen}, max seqs {MaxNumSeqs}, prefix caching {PrefixCaching}",
            Path.GetFileName(engine.Model.Directory.TrimEnd(Path.DirectorySeparatorChar)), c.Architecture, CheckpointDType(engine.Model.Directory), c.NumLayers,
            engine.Model.Directory, engine.Device, (long)Stopwatch.GetElapsedTime(_start).TotalMilliseconds,
            engine.NumKvBlocks, options.BlockSize, (long)engine.NumKvBlocks * options.BlockSize, kvBytes >> 20,
            engine.MaxModelLen, options.MaxNumSeqs, options.EnablePrefixCaching ? "on" : "off");
    }

    /// <summary>The checkpoint's declared dtype (config.json "dtype", or "torch_dtype" before transformers 4.56), for the log only.</summary>
    private static string CheckpointDType(string dir)
    {
        try
        {
            var file = new FileInfo(Path.Combine(dir, "config.json"));
            if (!file.Exists || file.Length > 1 << 20) return "dtype unknown"; // the loader already read it; no second big read
            using var doc = JsonDocument.Parse(File.ReadAllBytes(file.FullName));
            foreach (string key in (string[])["dtype", "torch_dtype"])
                if (doc.RootElement.TryGetProperty(key, out var v) && v.ValueKind == JsonValueKind.String) return v.GetString()!;
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        catch (JsonException) { }
        return "dtype unknown";
    }
}
