using System.Buffers;
using System.Text.Json;
using Microsoft.ML.Tokenizers;
using PagedAttention.AI.Tokenization;
using PagedAttention.Tests.Tokenization;

namespace PagedAttention.Tests.Frameworks;

/// <summary>The model's tokenizer through Microsoft.ML.Tokenizers' API: the same ids, counts and text as our own API.</summary>
public sealed class MLTokenizerAdapterTests
{
    public static TheoryData<string> Names => GoldenTests.Names;

    private static IEnumerable<(string Text, bool Special, int[] Ids, string Decoded, string DecodedSkip)> Golden(string name)
    {
        foreach (string line in File.ReadLines(Path.Combine(AppContext.BaseDirectory, "Data", "tokenizers", name + ".golden.jsonl")))
        {
            using var doc = JsonDocument.Parse(line);
            var r = doc.RootElement;
            yield return (r.GetProperty("text").GetString()!, r.GetProperty("addSpecialTokens").GetBoolean(),
                r.GetProperty("ids").EnumerateArray().Select(e => e.GetInt32()).ToArray(),
                r.GetProperty("decoded").GetString()!, r.GetProperty("decodedSkipSpecial").GetString()!);
        }
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void GoldenTexts_SameIdsCountsAndDecodedText(string name)
    {
        var tok = TokenizerFixtures.Get(name);
        Microsoft.ML.Tokenizers.Tokenizer plain = tok.AsMLTokenizer(), special = tok.AsMLTokenizer(addSpecialTokens: true);
        Microsoft.ML.Tokenizers.Tokenizer skip = tok.AsMLTokenizer(skipSpecialTokens: true);
        var failures = new List<string>();
        int n = 0;
        foreach (var c in Golden(name))
        {
            n++;
            var ml = c.Special ? special : plain;
            var ids = ml.EncodeToIds(c.Text);
            if (!ids.SequenceEqual(c.Ids)) failures.Add($"ids {JsonSerializer.Serialize(c.Text)}");
            if (ml.CountTokens(c.Text) != c.Ids.Length) failures.Add($"count {JsonSerializer.Serialize(c.Text)}");
            if (ml.Decode(c.Ids) != c.Decoded) failures.Add($"decode {JsonSerializer.Serialize(c.Text)}");
            if (skip.Decode(c.Ids) != c.DecodedSkip) failures.Add($"decode skip {JsonSerializer.Serialize(c.Text)}");
            // Tokens: the same ids, offsets in order and inside the (normalized) text.
            var tokens = ml.EncodeToTokens(c.Text, out string? normalized);
            string basis = normalized ?? c.Text;
            int last = 0;
            foreach (var t in tokens)
            {
                var (start, length) = t.Offset.GetOffsetAndLength(basis.Length);
                if (start < last) { failures.Add($"offsets {JsonSerializer.Serialize(c.Text)}"); break; }
                last = start + length;
            }
            if (!tokens.Select(t => t.Id).SequenceEqual(c.Ids)) failures.Add($"token ids {JsonSerializer.Serialize(c.Text)}");
        }
        Assert.True(n >= 600, $"{name}: {n} golden cases");
        Assert.True(failures.Count == 0, $"{name}: {failures.Count} failures:\n" + string.Join("\n", failures.Take(12)));
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void Offsets_CoverTheInputExactlyWhenItRoundTrips(string name)
    {
        var ml = TokenizerFixtures.Get(name).AsMLTokenizer();
        foreach (var (text, special, ids, decoded, _) in Golden(name))
        {
            if (special || decoded != text) continue;
            var tokens = ml.EncodeToTokens(text, out string? normalized);
            Assert.Null(normalized);
            Assert.Equal(text, string.Concat(tokens.Select(t => text[t.Offset])));
        }
    }

    [Fact]
    public void DecodeRoundTrip_AndDecodeIntoASpan()
    {
        var ml = TokenizerFixtures.Get("llama3").AsMLTokenizer();
        const string text = "The county board met on Monday — naïve café, 日本語, emoji 🎉.";
        var ids = ml.EncodeToIds(text);
        Assert.Equal(text, ml.Decode(ids));

        var buffer = new char[text.Length];
        Assert.Equal(OperationStatus.Done, ml.Decode(ids, buffer, out int consumed, out int written));
        Assert.Equal((ids.Count, text.Length), (consumed, written));
        Assert.Equal(text, new string(buffer));

        var small = new char[20];
        Assert.Equal(OperationStatus.DestinationTooSmall, ml.Decode(ids, small, out consumed, out written));
        Assert.True(consumed < ids.Count && written <= 20);
        Assert.Equal(ml.Decode(ids.Take(consumed)), new string(small, 0, written));
    }

    [Fact]
    public void MaxTokenCount_AndGetIndexByTokenCount_CutAtTokenBoundaries()
    {
        var ml = TokenizerFixtures.Get("llama3").AsMLTokenizer();
        const string text = "The county board met on Monday night in the old court house.";
        var all = ml.EncodeToIds(text);
        Assert.True(all.Count > 6);

        var five = ml.EncodeToIds(text, 5, out string? normalized, out int consumed);
        Assert.Null(normalized);
        Assert.Equal(all.Take(5), five);
        Assert.Equal(ml.Decode(five), text[..consumed]);

        int index = ml.GetIndexByTokenCount(text, 5, out _, out int count);
        Assert.Equal((consumed, 5), (index, count));
        int fromEnd = ml.GetIndexByTokenCountFromEnd(text, 3, out _, out count);
        Assert.Equal(3, count);
        Assert.Equal(all.Skip(all.Count - 3), ml.EncodeToIds(text[fromEnd..]));
        Assert.Equal(text.Length, ml.GetIndexByTokenCount(text, 1000, out _, out count));
        Assert.Equal(all.Count, count);
    }

    [Fact]
    public void SpecialTokens_AddedByThePostProcessorHaveEmptyOffsets()
    {
        var tok = TokenizerFixtures.Get("gemma3"); // its post-processor prepends <bos>
        var ml = tok.AsMLTokenizer(addSpecialTokens: true);
        var tokens = ml.EncodeToTokens("Hello world", out string? normalized);
        Assert.Null(normalized);
        Assert.Equal(tok.BosTokenId, tokens[0].Id);
        Assert.Equal(0, tokens[0].Offset.GetOffsetAndLength(11).Length);
        Assert.Equal(tok.Encode("Hello world"), tokens.Select(t => t.Id));
    }

#pragma warning disable SKEXP0050 // TextChunker is experimental in SK
    [Fact]
    public void SemanticKernelTextChunker_CountsWithTheModelsTokenizer()
    {
        var ml = TokenizerFixtures.Get("llama3").AsMLTokenizer();
        string text = string.Join("\n", Enumerable.Range(0, 40).Select(i => $"Line {i}: the river rose higher than it has in ten years."));
        var lines = Microsoft.SemanticKernel.Text.TextChunker.SplitPlainTextLines(text, 20, s => ml.CountTokens(s));
        var paragraphs = Microsoft.SemanticKernel.Text.TextChunker.SplitPlainTextParagraphs(lines, 60, tokenCounter: s => ml.CountTokens(s));
        Assert.True(paragraphs.Count > 1);
        Assert.All(paragraphs, p => Assert.True(ml.CountTokens(p) <= 60, $"{ml.CountTokens(p)} tokens"));
    }
#pragma warning restore SKEXP0050
}
