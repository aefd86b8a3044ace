using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.AI;
using PagedAttention.AI.Chat;
using PagedAttention.Text.Templates;

namespace PagedAttention.Tests.Chat;

/// <summary>
/// Microsoft.Extensions.AI messages with tool calls and results, turned into a template context by the chat client,
/// render byte-exactly like the Python Jinja2 goldens of the hand-written OpenAI-style "tools" context.
/// </summary>
public class ChatContextGoldenTests
{
    private static readonly string Dir = Path.Combine(TestData.Root, "templates");

    [Theory]
    [InlineData("qwen2.5")]
    [InlineData("qwen3")]
    [InlineData("llama-3.1")]
    [InlineData("mistral-nemo")]
    [InlineData("smollm3")]
    public void ToolConversationRendersLikeTransformers(string template)
    {
        var golden = JsonNode.Parse(File.ReadAllText(Path.Combine(Dir, "goldens", template + ".json")))!;
        string expected = golden["cases"]!.AsArray().Single(c => (string?)c!["context"] == "tools")!["output"]!.GetValue<string>();
        var reference = JsonNode.Parse(File.ReadAllText(Path.Combine(Dir, "contexts.json")))!["tools"]!;

        var tools = reference["tools"]!.AsArray().Select(t => (AITool)AIFunctionFactory.CreateDeclaration(
            (string)t!["function"]!["name"]!, (string?)t["function"]!["description"],
            JsonDocument.Parse(t["function"]!["parameters"]!.ToJsonString()).RootElement.Clone())).ToList();
        var messages = new List<ChatMessage>
        {
            new(ChatRole.User, "Weather in Paris?"),
            new(ChatRole.Assistant, [new FunctionCallContent("call12345", "get_weather", new Dictionary<string, object?> { ["city"] = "Paris", ["unit"] = "c" })]),
            new(ChatRole.Tool, [new FunctionResultContent("call12345", "{\"temp_c\": 21.5}")]),
        };
        var context = ChatContextBuilder.Build(messages, new ChatOptions { Tools = tools }, (string?)golden["bos_token"], (string?)golden["eos_token"]);
        context["date_string"] = (string?)reference["date_string"];

        string source = File.ReadAllText(Path.Combine(Dir, "sources", template + ".jinja"));
        Assert.Equal(expected, ChatTemplate.Parse(source).Render(context, new FixedClock()));
    }

    private sealed class FixedClock : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => new(2024, 7, 26, 12, 0, 0, TimeSpan.Zero);
    }
}
