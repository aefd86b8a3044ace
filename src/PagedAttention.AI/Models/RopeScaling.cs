namespace PagedAttention.AI.Models;

/// <summary>Which rotary-embedding frequency scheme a checkpoint uses.</summary>
public enum RopeType
{
    /// <summary>Plain RoPE: inv_freq = theta^(-2i/d).</summary>
    Default,
    /// <summary>Position interpolation: inv_freq / factor.</summary>
    Linear,
    /// <summary>Llama 3.1's piecewise scaling of low and medium frequencies.</summary>
    Llama3,
}

/// <summary>Rotary-embedding parameters from config.json (<c>rope_theta</c>/<c>rope_scaling</c> or <c>rope_parameters</c>).</summary>
/// <param name="Type">The scheme.</param>
/// <param name="Theta">The base.</param>
/// <param name="Factor">Scaling factor (Linear, Llama3).</param>
/// <param name="LowFreqFactor">Llama3 low-frequency factor.</param>
/// <param name="HighFreqFactor">Llama3 high-frequency factor.</param>
/// <param name="OriginalMaxPositionEmbeddings">Llama3 original context length.</param>
public sealed record RopeScaling(RopeType Type, double Theta, double Factor = 1, double LowFreqFactor = 1, double HighFreqFactor = 4, int OriginalMaxPositionEmbeddings = 8192)
{
    /// <summary>The inverse frequencies for <paramref name="headDim"/>, computed in float32 as transformers does.</summary>
    public float[] InverseFrequencies(int headDim)
    {
        int half = headDim / 2;
        var inv = new float[half];
        for (int i = 0; i < half; i++)
            inv[i] = 1f / MathF.Pow((float)Theta, (2 * i) / (float)headDim);
        switch (Type)
        {
            case RopeType.Linear:
                for (int i = 0; i < half; i++) inv[i] /= (float)Factor;
                break;
            case RopeType.Llama3:
                float factor = (float)Factor, low = (float)LowFreqFactor, high = (float)HighFreqFactor, old = OriginalMaxPositionEmbeddings;
                float lowWavelen = old / low, highWavelen = old / high;
                for (int i = 0; i < half; i++)
                {
                    float wavelen = 2 * MathF.PI / inv[i];
                    float scaled = wavelen > lowWavelen ? inv[i] / factor : inv[i];
                    if (!(wavelen < highWavelen) && !(wavelen > lowWavelen))
                    {
                        float smooth = (old / wavelen - low) / (high - low);
                        scaled = (1 - smooth) * scaled / factor + smooth * scaled;
                    }
                    inv[i] = scaled;
                }
                break;
        }
        return inv;
    }
}
