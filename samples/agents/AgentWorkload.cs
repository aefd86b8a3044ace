using System.Text;

namespace PagedAttention.Samples.Agents;

/// <summary>One agent: its role and task. Every agent's prompt starts with the same <see cref="AgentWorkload.Preamble"/>.</summary>
internal sealed record Agent(string Name, string Role, string Task);

/// <summary>The shared preamble and the agents' roles, deterministic for a given count.</summary>
internal static class AgentWorkload
{
    private static readonly (string Role, string Task)[] Roles =
    [
        ("a historian of the American South", "Describe the town square on the morning of the election."),
        ("a newspaper editor", "Write the opening of a report on the new county budget."),
        ("a teacher in a small school", "Explain to the parents why the library needs more books."),
        ("a farmer who keeps records", "Tell how the spring rain changed the planting season."),
        ("a church minister", "Begin a sermon about patience and hard work."),
        ("a railroad engineer", "Describe the last trip across the river bridge."),
        ("a city council member", "Argue for a new road between the two villages."),
        ("a doctor in a county hospital", "Describe a long night in the hospital ward."),
        ("a young writer", "Open a story about a family that moves to the city."),
        ("a music critic", "Review the orchestra concert given last Sunday."),
        ("a sports reporter", "Describe the final minutes of the baseball game."),
        ("a lawyer", "Explain the case to the members of the jury."),
        ("a scientist", "Describe the results of the new experiment on water."),
        ("a soldier home from the war", "Tell what he saw when he came back to his street."),
        ("a shop owner", "Explain why prices rose during the winter."),
        ("a student of philosophy", "Begin an essay on the meaning of freedom."),
    ];

    /// <summary>The byte-identical leading text every agent shares: a policy, shared documents and the tool list.</summary>
    public static string Preamble { get; } = BuildPreamble();

    public static IReadOnlyList<Agent> Create(int count) =>
        Enumerable.Range(0, count).Select(i =>
        {
            var (role, task) = Roles[i % Roles.Length];
            return new Agent($"agent-{i + 1:D2}", role, task);
        }).ToArray();

    private static string BuildPreamble()
    {
        var sb = new StringBuilder();
        sb.AppendLine("The following rules apply to every writer on the staff of the county paper.");
        sb.AppendLine("Write in plain English. Use short sentences and common words. Tell the truth as it was told to you, and say where it came from.");
        sb.AppendLine("Do not make up names of people who live in the county. When you do not know a fact, say that it is not known.");
        sb.AppendLine("Each report begins with the most important fact, then gives the details in the order of their importance.");
        sb.AppendLine("Be fair to every side of a question. When two men disagree, give the words of both, and let the reader decide.");
        sb.AppendLine();
        sb.AppendLine("Shared documents for this week:");
        string[] documents =
        [
            "The county board met on Monday night in the old court house. The members voted to spend more money on the roads and the schools, and less on the new water plant. The vote was close, and many people in the room were angry when it was over.",
            "The spring has been wet. The river rose higher than it has in ten years, and the farmers on the low land lost part of their first planting. The state has said that it will send help, but no one knows when it will come.",
            "The new high school will open in the fall. It has twenty class rooms, a library, and a large field for games. The teachers say that the students are ready, but the parents want to know who will pay for the buses.",
            "The railroad company has asked the city for the right to build a second line along the river. Some men in the city say it will bring work and money; others say it will bring noise and danger to the children who play near the tracks.",
            "The hospital needs more doctors and nurses. The head of the hospital told the board that the people of the county are getting older, and that the hospital will have to grow if it is to care for them.",
            "The music society will give its spring concert in the church on Sunday. The orchestra has worked all winter on the program, which includes old songs of the South and new music from the North.",
        ];
        for (int round = 0; round < 3; round++)
            for (int i = 0; i < documents.Length; i++)
                sb.Append("Document ").Append(round * documents.Length + i + 1).Append(": ").AppendLine(documents[(i + round) % documents.Length]);
        sb.AppendLine();
        sb.AppendLine("Tools you may ask the editor to use, in this order:");
        sb.AppendLine("1. search_archive(query): find old reports in the paper's files.");
        sb.AppendLine("2. get_weather(town, day): the weather in a town on a given day.");
        sb.AppendLine("3. call_source(name): ask a named person for a statement.");
        sb.AppendLine("4. count_votes(meeting): the votes of the board at a meeting.");
        return sb.ToString();
    }
}
