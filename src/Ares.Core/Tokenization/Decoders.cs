using System.Text;

namespace Ares.Core.Tokenization;

/// <summary>Turns token strings back into text pieces (tokenizer.json "decoder"; Hugging Face's decode_chain).</summary>
internal delegate List<string> Decoder(List<string> tokens);

internal static class Decoders
{
    /// <summary>Builds the decoder a tokenizer.json "decoder" object describes; null when there is none.</summary>
    public static Decoder? FromJson(JsonAt? json)
    {
        if (json is not { } j) return null;
        switch (j.Type)
        {
            case "Sequence":
                var steps = j.Req("decoders").Items().Select(d => FromJson(d)!).ToArray();
                return tokens => steps.Aggregate(tokens, (t, step) => step(t));
            case "ByteLevel":
                return tokens =>
                {
                    var bytes = new List<byte>();
                    foreach (var t in tokens) ByteLevel.AppendBytes(t, bytes);
                    return [Encoding.UTF8.GetString([.. bytes])]; // invalid UTF-8 becomes U+FFFD, like from_utf8_lossy
                };
            case "Replace":
                var pattern = TextPattern.FromJson(j.Req("pattern"));
                string content = j.Str("content");
                return tokens => tokens.ConvertAll(t => pattern.Replace(t, content));
            case "ByteFallback":
                return ByteFallback;
            case "Fuse":
                return tokens => [string.Concat(tokens)];
            case "Strip":
                string stripped = j.Str("content");
                if (stripped.Length != 1) throw j.Malformed($"content '{stripped}' must be one character");
                int start = j.Int("start", 0), stop = j.Int("stop", 0);
                return tokens => tokens.ConvertAll(t => Strip(t, stripped[0], start, stop));
            case "Metaspace":
                string rep = j.Str("replacement");
                bool dropFirst = (j.OptStr("prepend_scheme") ?? "always") != "never" && j.Bool("add_prefix_space", true);
                // As Hugging Face does: in the first token every ▁ vanishes (not just the prepended one); elsewhere ▁ is a space.
                return tokens => tokens.Select((t, i) => t.Replace(rep, i == 0 && dropFirst ? "" : " ", StringComparison.Ordinal)).ToList();
            case "BPEDecoder":
                string suffix = j.OptStr("suffix") ?? "</w>";
                return tokens => tokens.Select((t, i) => t.Replace(suffix, i == tokens.Count - 1 ? "" : " ", StringComparison.Ordinal)).ToList();
            case var other:
                throw j.Unsupported($"decoder type '{other}'");
        }
    }

    /// <summary>Runs of "&lt;0xNN&gt;" tokens become the text their bytes spell, or one U+FFFD per byte when that is not valid UTF-8.</summary>
    static List<string> ByteFallback(List<string> tokens)
    {
        var result = new List<string>(tokens.Count);
        var bytes = new List<byte>();
        void Flush()
        {
            if (bytes.Count == 0) return;
            try { result.Add(Utf8Strict.GetString([.. bytes])); }
            catch (DecoderFallbackException) { result.AddRange(Enumerable.Repeat("\uFFFD", bytes.Count)); }
            bytes.Clear();
        }
        foreach (var t in tokens)
        {
            if (TryParseByteToken(t, out byte b)) { bytes.Add(b); continue; }
            Flush();
            result.Add(t);
        }
        Flush();
        return result;
    }

    static readonly UTF8Encoding Utf8Strict = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>Parses SentencePiece byte tokens "&lt;0x00&gt;" … "&lt;0xFF&gt;".</summary>
    public static bool TryParseByteToken(string token, out byte value)
    {
        value = 0;
        return token.Length == 6 && token.StartsWith("<0x", StringComparison.Ordinal) && token[5] == '>'
            && byte.TryParse(token.AsSpan(3, 2), System.Globalization.NumberStyles.AllowHexSpecifier, null, out value);
    }

    /// <summary>Removes up to <paramref name="start"/> leading and <paramref name="stop"/> trailing <paramref name="c"/>.</summary>
    static string Strip(string t, char c, int start, int stop)
    {
        int from = 0, to = t.Length;
        while (from < start && from < to && t[from] == c) from++;
        while (t.Length - to < stop && to > from && t[to - 1] == c) to--;
        return t[from..to];
    }
}
