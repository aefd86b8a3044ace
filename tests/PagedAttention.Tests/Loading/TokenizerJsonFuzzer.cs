using System.Text.Json.Nodes;

namespace PagedAttention.Tests.Loading;

/// <summary>Random edits of a JSON document: delete a node, replace it with a value of a random kind, or a huge or odd number.</summary>
internal sealed class TokenizerJsonFuzzer
{
    private static readonly string[] Values =
    [
        "null", "true", "false", "0", "-1", "1", "2", "255", "256", "2147483647", "-2147483648", "4294967296", "1e300", "1.5",
        "\"\"", "\"x\"", "\"BPE\"", "\"ByteLevel\"", "\"Sequence\"", "\"Split\"", "\"Regex\"", "\"(\"", "\"[\"", "\"\\\\p{\"",
        "\"<|bos|>\"", "\"Ġ t\"", "\"a b c\"", "\"\\u0000\"", "[]", "{}", "[1]", "[\"a\"]", "[\"a\", \"b\"]", "[[]]", "[{}]",
        "{\"type\": \"Sequence\"}", "{\"type\": \"Split\", \"pattern\": {\"Regex\": \"(\"}, \"behavior\": \"Isolated\"}",
        "{\"type\": \"Replace\", \"pattern\": {\"String\": \"\"}, \"content\": \"\"}", "{\"type\": \"Strip\", \"content\": \" \", \"start\": 2147483647, \"stop\": 0}",
        "{\"type\": \"TemplateProcessing\", \"single\": [{\"SpecialToken\": {\"id\": \"x\"}}], \"special_tokens\": {\"x\": {\"ids\": [2147483647]}}}",
        "{\"type\": \"Metaspace\", \"replacement\": \"\", \"prepend_scheme\": \"always\"}",
        "[{\"name\": \"default\"}]", "[{\"template\": 5}]", "{\"content\": 5}", "{\"ids\": [-1]}",
    ];

    private readonly List<string> _paths = [];
    private readonly List<string> _rarePaths = [];

    public TokenizerJsonFuzzer(JsonObject root)
    {
        Original = root.ToJsonString();
        Collect(root, "");
    }

    public string Original { get; }

    /// <summary>
    /// The default model's tokenizer — or the tokenizer.json (or folder) named by <c>PAGEDATTENTION_TEST_FUZZ_TOKENIZER</c>,
    /// for a long run over other components (e.g. a SentencePiece-style Llama 2 file) — cut to its first 512 ids and the
    /// merges among them: the same components, a fraction of the parse time.
    /// </summary>
    public static JsonObject SmallDefaultTokenizer()
    {
        string source = Environment.GetEnvironmentVariable("PAGEDATTENTION_TEST_FUZZ_TOKENIZER") ?? Chat.ChatClientTests.DefaultModel;
        if (Directory.Exists(source)) source = Path.Combine(source, "tokenizer.json");
        var root = JsonNode.Parse(File.ReadAllText(source))!.AsObject();
        var model = root["model"]!.AsObject();
        var vocab = new JsonObject();
        var kept = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (token, id) in model["vocab"]!.AsObject())
            if (id!.GetValue<int>() < 512) { vocab[token] = id.GetValue<int>(); kept.Add(token); }
        var merges = new JsonArray();
        foreach (var m in model["merges"]!.AsArray())
        {
            // Pairs are ["a", "b"] or the legacy "a b" form.
            string[] pair = m is JsonArray arr ? [arr[0]!.GetValue<string>(), arr[1]!.GetValue<string>()] : m!.GetValue<string>().Split(' ', 2);
            string a = pair[0], b = pair[^1];
            if (kept.Contains(a) && kept.Contains(b) && kept.Contains(a + b)) merges.Add(new JsonArray(a, b));
        }
        model["vocab"] = vocab;
        model["merges"] = merges;
        return root;
    }

    private void Collect(JsonNode? node, string path)
    {
        if (path.Length > 0) (path.StartsWith("/model/vocab/", StringComparison.Ordinal) || path.StartsWith("/model/merges/", StringComparison.Ordinal) ? _rarePaths : _paths).Add(path);
        if (node is JsonObject o) foreach (var (k, v) in o) Collect(v, path + "/" + k);
        else if (node is JsonArray a) for (int i = 0; i < a.Count; i++) Collect(a[i], path + "/" + i);
    }

    /// <summary>One to three edits of <see cref="Original"/>; an edit whose path no longer exists is skipped.</summary>
    public string Mutate(Random r)
    {
        var root = JsonNode.Parse(Original)!;
        int edits = r.Next(1, 4);
        for (int e = 0; e < edits; e++)
        {
            var list = _rarePaths.Count > 0 && r.Next(4) == 0 ? _rarePaths : _paths;
            if (list.Count == 0) break;
            string path = list[r.Next(list.Count)];
            try
            {
                JsonEdit.Set(root, path, r.Next(5) == 0 ? null : JsonNode.Parse(Values[r.Next(Values.Length)]), remove: r.Next(5) == 0);
            }
            catch (Exception ex) when (ex is NullReferenceException or InvalidOperationException or ArgumentException or FormatException or KeyNotFoundException)
            {
                // The path went away with an earlier edit.
            }
        }
        return root.ToJsonString();
    }
}
