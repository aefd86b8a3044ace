using System.ComponentModel;
using Microsoft.SemanticKernel;

namespace PagedAttention.Samples.SemanticKernel;

/// <summary>The plugin the chat histories may call: the county paper's records.</summary>
internal sealed class CountyRecordsPlugin
{
    private int _calls;

    /// <summary>How many times the model called a function of this plugin.</summary>
    public int Calls => Volatile.Read(ref _calls);

    [KernelFunction("get_weather"), Description("The weather in a town on a given day.")]
    public string GetWeather([Description("The town")] string town, [Description("The day, e.g. Monday")] string day)
    {
        Interlocked.Increment(ref _calls);
        return $"{town} on {day}: rain in the morning, clear by noon.";
    }

    [KernelFunction("count_votes"), Description("The votes of the county board at a meeting.")]
    public string CountVotes([Description("The meeting, e.g. Monday night")] string meeting)
    {
        Interlocked.Increment(ref _calls);
        return $"{meeting}: roads and schools 4 to 3; water plant 2 to 5.";
    }
}
