namespace PagedAttention.Router.Tests;

/// <summary>
/// Tests that start real server processes run alone: four replicas loading the model saturate a 2-core CI machine,
/// and the in-process router tests next to them probe health with a one-second timeout.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ProcessHeavyCollection
{
    public const string Name = "process-heavy";
}
