namespace PagedAttention.AI.Models;

/// <summary>A loaded decoder model, whatever device it runs on.</summary>
public interface IDecoderModel
{
    /// <summary>The model directory.</summary>
    string Directory { get; }

    /// <summary>The parsed configuration.</summary>
    ModelConfig Config { get; }
}
