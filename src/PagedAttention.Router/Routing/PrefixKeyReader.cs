using System.Buffers;
using System.Buffers.Binary;
using System.Text.Json;

namespace PagedAttention.Router.Routing;

/// <summary>
/// Finds the routing key of an OpenAI request body: the bytes the prompt's cached prefix starts with.
/// <list type="bullet">
/// <item><c>/v1/chat/completions</c> (<c>messages</c>): the text of the leading system/developer messages, in order
/// (string content, or the <c>text</c> of content parts), each followed by its role; when the first message is not a
/// system/developer message, that first message instead.</item>
/// <item><c>/v1/completions</c> (<c>prompt</c>): the prompt string, or the first of a list of strings, or the token
/// ids (4 bytes each, little-endian) of a token-id prompt or the first of a list of them.</item>
/// </list>
/// The key is cut at the destination's length (<see cref="Configuration.RouterOptions.PrefixBytes"/>). The body may
/// be a prefix of the whole (<c>complete</c> false): then the key holds what that prefix has, and a value cut by
/// the end of it is left out, so equal body prefixes always give equal keys. Returns the key's length, 0 when the
/// body is not such a JSON object (the policy then balances by load alone). Never throws on malformed input.
/// </summary>
internal static class PrefixKeyReader
{
    private const byte ContentEnd = 0x1F;
    private const byte MessageEnd = 0x1E;

    /// <summary>Writes the key of <paramref name="body"/> into <paramref name="key"/>; returns its length.</summary>
    public static int Read(ReadOnlySpan<byte> body, bool complete, Span<byte> key)
    {
        var writer = new KeyWriter(key);
        try
        {
            var reader = new Utf8JsonReader(body, complete, new JsonReaderState(new JsonReaderOptions { MaxDepth = 64 }));
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return 0;
            }

            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals("messages"u8))
                {
                    if (reader.Read() && reader.TokenType == JsonTokenType.StartArray)
                    {
                        ReadMessages(ref reader, ref writer);
                    }

                    return writer.Length;
                }

                if (reader.ValueTextEquals("prompt"u8))
                {
                    if (reader.Read())
                    {
                        ReadPrompt(ref reader, ref writer);
                    }

                    return writer.Length;
                }

                if (!reader.TrySkip())
                {
                    break;
                }
            }
        }
        catch (JsonException)
        {
            // Malformed JSON: whatever was complete before the fault is the key (the replica reports the error).
        }

        return writer.Length;
    }

    private static void ReadMessages(ref Utf8JsonReader reader, ref KeyWriter writer)
    {
        Span<byte> role = stackalloc byte[32];
        var index = 0;
        while (!writer.Full && reader.Read() && reader.TokenType != JsonTokenType.EndArray)
        {
            if (reader.TokenType != JsonTokenType.StartObject)
            {
                return;
            }

            var mark = writer.Length;
            var roleLength = -1;
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                if (reader.ValueTextEquals("role"u8))
                {
                    if (!reader.Read())
                    {
                        return;
                    }

                    roleLength = reader.TokenType == JsonTokenType.String ? CopyString(ref reader, role) : 0;
                }
                else if (reader.ValueTextEquals("content"u8))
                {
                    if (!reader.Read() || !ReadContent(ref reader, ref writer))
                    {
                        return;
                    }
                }
                else if (!reader.TrySkip())
                {
                    return;
                }
            }

            if (reader.TokenType != JsonTokenType.EndObject)
            {
                return; // the body ended inside this message
            }

            var r = roleLength > 0 ? role[..roleLength] : [];
            var instructions = r.SequenceEqual("system"u8) || r.SequenceEqual("developer"u8);
            if (!instructions && index > 0)
            {
                writer.Length = mark; // the first non-instruction message after the instructions is not part of the key
                return;
            }

            writer.Write([ContentEnd]);
            writer.Write(r);
            writer.Write([MessageEnd]);
            if (!instructions)
            {
                return; // no instructions: the first message is the key
            }

            index++;
        }
    }

    private static bool ReadContent(ref Utf8JsonReader reader, ref KeyWriter writer)
    {
        switch (reader.TokenType)
        {
            case JsonTokenType.String:
                WriteString(ref reader, ref writer);
                return true;
            case JsonTokenType.StartArray:
                while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
                {
                    if (reader.TokenType != JsonTokenType.StartObject)
                    {
                        if (!reader.TrySkip())
                        {
                            return false;
                        }

                        continue;
                    }

                    while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
                    {
                        if (reader.ValueTextEquals("text"u8))
                        {
                            if (!reader.Read())
                            {
                                return false;
                            }

                            if (reader.TokenType == JsonTokenType.String)
                            {
                                WriteString(ref reader, ref writer);
                            }
                        }
                        else if (!reader.TrySkip())
                        {
                            return false;
                        }
                    }

                    if (reader.TokenType != JsonTokenType.EndObject)
                    {
                        return false;
                    }
                }

                return reader.TokenType == JsonTokenType.EndArray;
            default:
                return reader.TrySkip();
        }
    }

    private static void ReadPrompt(ref Utf8JsonReader reader, ref KeyWriter writer)
    {
        if (reader.TokenType == JsonTokenType.String)
        {
            WriteString(ref reader, ref writer);
            return;
        }

        if (reader.TokenType != JsonTokenType.StartArray || !reader.Read())
        {
            return;
        }

        if (reader.TokenType == JsonTokenType.String)
        {
            WriteString(ref reader, ref writer); // a list of prompts: the first one
            return;
        }

        if (reader.TokenType == JsonTokenType.StartArray && !reader.Read())
        {
            return; // a list of token-id prompts: the first one
        }

        Span<byte> id = stackalloc byte[4];
        while (!writer.Full && reader.TokenType == JsonTokenType.Number && reader.TryGetInt32(out var token))
        {
            BinaryPrimitives.WriteInt32LittleEndian(id, token);
            writer.Write(id);
            if (!reader.Read())
            {
                return;
            }
        }
    }

    private static void WriteString(ref Utf8JsonReader reader, ref KeyWriter writer)
    {
        if (!reader.ValueIsEscaped)
        {
            writer.Write(reader.ValueSpan);
            return;
        }

        var rented = ArrayPool<byte>.Shared.Rent(reader.ValueSpan.Length);
        try
        {
            var n = reader.CopyString(rented);
            writer.Write(rented.AsSpan(0, n));
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(rented);
        }
    }

    private static int CopyString(ref Utf8JsonReader reader, scoped Span<byte> destination)
    {
        if (reader.ValueSpan.Length > destination.Length)
        {
            return 0; // no role is this long; treat it as an unknown one
        }

        return reader.CopyString(destination);
    }

    private ref struct KeyWriter(Span<byte> destination)
    {
        private readonly Span<byte> _destination = destination;

        public int Length { get; set; }

        public readonly bool Full => Length >= _destination.Length;

        public void Write(scoped ReadOnlySpan<byte> bytes)
        {
            var n = Math.Min(bytes.Length, _destination.Length - Length);
            bytes[..n].CopyTo(_destination[Length..]);
            Length += n;
        }
    }
}
