namespace PagedAttention.Tests.Models;

/// <summary>A theory that runs once tools/fidelity/beam_goldens.py has written every tiny model's beam_golden.json.</summary>
public sealed class BeamGoldenTheoryAttribute : TheoryAttribute
{
    public BeamGoldenTheoryAttribute()
    {
        var missing = BeamGoldenTests.Models.Where(m => !File.Exists(BeamGoldenTests.GoldenPath(m))).ToList();
        if (missing.Count > 0)
            Skip = $"Beam-search goldens missing for {string.Join(", ", missing)}: run `python3 tools/fidelity/beam_goldens.py tests/PagedAttention.Tests/Data/models` on the GPU machine (DEVICE-REQUEST.md).";
    }
}
