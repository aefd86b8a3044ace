using System.Text;

namespace PagedAttention.Samples.Agents;

/// <summary>One agent: its name, the kind of task (what a correct answer needs) and the task itself.</summary>
internal sealed record Agent(string Name, string Kind, string Task);

/// <summary>The shared preamble (a company handbook the agents answer from) and the agents' tasks, deterministic for a given count.</summary>
internal static class AgentWorkload
{
    // Document questions are answered from the preamble; tool tasks need one of AgentTools' functions (two for
    // "two tools"); "chat" needs neither. The default model was trained on this kind of task (tools/agent-corpus).
    private static readonly (string Kind, string Task)[] Tasks =
    [
        ("document", "How much does the Travel Speaker cost?"),
        ("tool", "What's the weather in Lisbon?"),
        ("document", "Where does Anna Reyes work?"),
        ("tool", "Convert 250 USD to EUR."),
        ("document", "Is the Wireless Clock in stock?"),
        ("tool", "Look up shipment SHP-4821."),
        ("document", "What is the status of order A60456?"),
        ("tool", "What time is it in Tokyo?"),
        ("document", "Which is cheaper, the Golden Desk or the Steel Desk?"),
        ("two tools", "What's the weather in Oslo? Also, what time is it in Oslo?"),
        ("document", "How many days do I have to return an item?"),
        ("chat", "Hello!"),
        ("document", "Who placed order A38385?"),
        ("tool", "How much is 80 GBP in JPY?"),
        ("document", "What is Victor Nash's extension?"),
        ("tool", "Is it raining in Chicago?"),
    ];

    /// <summary>The byte-identical leading text every agent shares: the instructions and the handbook.</summary>
    public static string Preamble { get; } = """
        You are the assistant of Clearview. Answer the user's questions from the document below.

        # Clearview handbook

        Returns are accepted within 14 days of delivery. Shipping costs $9.99 per order. Every product has a 5-year warranty. Support is open from 10am to 8pm, Monday to Friday.

        ## Products
        - Golden Tent: $304.00, 39 in stock, category office, color brown.
        - Wireless Clock: $121.50, out of stock, category furniture, color green.
        - Rustic Helmet: $131.99, out of stock, category outdoor, color blue.
        - Travel Speaker: $127.99, 71 in stock, category lighting, color pink.
        - Smart Mug: $328.25, 7 in stock, category lighting, color orange.
        - Bamboo Mirror: $131.25, 75 in stock, category furniture, color yellow.
        - Soft Scale: $134.99, 31 in stock, category kitchen, color pink.
        - Heavy Lamp: $43.99, 3 in stock, category bedding, color pink.
        - Deluxe Stool: $355.00, 87 in stock, category electronics, color brown.
        - Modern Scarf: $385.25, 5 in stock, category tools, color orange.
        - Golden Desk: $67.75, 115 in stock, category kitchen, color blue.
        - Steel Blanket: $121.99, 59 in stock, category electronics, color pink.
        - Classic Rug: $55.50, out of stock, category travel, color green.
        - Steel Desk: $178.99, 14 in stock, category tools, color blue.
        - Marble Monitor: $10.99, 43 in stock, category travel, color brown.
        - Bamboo Drill: $339.99, 117 in stock, category electronics, color brown.
        - Portable Basket: $265.25, 2 in stock, category office, color white.
        - Portable Desk: $105.99, 84 in stock, category travel, color gray.

        ## Staff
        - Clara Foster: lawyer, Research department, Milan office, extension 9713, since 1997.
        - Mia Clarke: office manager, Sales department, Montreal office, extension 1991, since 2022.
        - Rosa Weber: editor, Support department, Jakarta office, extension 6262, since 2022.
        - Anna Reyes: engineer, Marketing department, Milan office, extension 9463, since 2016.
        - Victor Nash: designer, Sales department, Lima office, extension 5700, since 2011.
        - Helen Nilsson: accountant, Design department, Sydney office, extension 7661, since 2012.
        - Sofia Reyes: teacher, Operations department, Houston office, extension 5339, since 1996.
        - Felix Meyer: product manager, Legal department, Chicago office, extension 5797, since 2015.
        - Grace Rossi: recruiter, Operations department, Porto office, extension 5658, since 2004.
        - Robert Brown: office manager, Finance department, Dallas office, extension 7383, since 2024.
        - Lucas Costa: lawyer, Finance department, Chicago office, extension 5322, since 2000.
        - Olivia Nilsson: accountant, Research department, Paris office, extension 2223, since 2018.
        - Elena Reyes: lawyer, Sales department, Geneva office, extension 1891, since 2004.

        ## Orders
        - Order A38385: Tobias Meyer, placed August 12, 2023, total $527.99, shipped.
        - Order A53767: Mia Walker, placed July 26, 2026, total $261.99, delivered.
        - Order A19034: David Patel, placed 2023-08-09, total $661.99, processing.
        - Order A56866: Tobias Hoffman, placed 2025-01-24, total $586.99, cancelled.
        - Order A44700: Adam Turner, placed 2024-08-23, total $457.00, processing.
        - Order A95737: David Hoffman, placed June 8, 2024, total $273.75, cancelled.
        - Order A60456: Elena Hughes, placed 2025-05-21, total $612.99, pending.
        - Order A98204: Jacob Schmidt, placed 2024-08-13, total $508.99, on hold.
        - Order A59633: Samuel Baker, placed 2026-12-18, total $848.99, delivered.
        - Order A83448: Chloe Moreau, placed 2025-03-02, total $268.75, processing.
        - Order A29320: Kevin Dunn, placed 2025-01-06, total $681.25, cancelled.
        - Order A98506: Tobias Reyes, placed May 26, 2024, total $738.50, delivered.
        - Order A15687: Felix Romano, placed May 2, 2024, total $518.50, cancelled.
        - Order A40475: Robert Hall, placed 2026-03-26, total $882.99, shipped.
        - Order A84783: Maria King, placed 2025-05-24, total $20.99, shipped.
        - Order A76830: Olivia Page, placed 2026-05-12, total $73.99, pending.
        - Order A32009: Sara Wright, placed February 19, 2024, total $893.75, delivered.
        """;

    public static IReadOnlyList<Agent> Create(int count) =>
        Enumerable.Range(0, count).Select(i =>
        {
            var (kind, task) = Tasks[i % Tasks.Length];
            return new Agent($"agent-{i + 1:D2}", kind, task);
        }).ToArray();
}
