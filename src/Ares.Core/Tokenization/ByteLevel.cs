using System.Text;

namespace Ares.Core.Tokenization;

/// <summary>
/// GPT-2's byte-level alphabet (used by GPT-2, Llama 3, Qwen): every byte of the UTF-8 text is written as one
/// printable character — printable Latin-1 bytes as themselves, the other 68 as U+0100 onwards — so byte-level BPE
/// vocabularies are ordinary strings (a space is "Ġ", a newline "Ċ").
/// </summary>
internal static class ByteLevel
{
    static readonly char[] ByteToChar = new char[256];
    static readonly short[] CharToByte = new short[324]; // -1 where the character is not in the alphabet

    static ByteLevel()
    {
        Array.Fill(CharToByte, (short)-1);
        int next = 256;
        for (int b = 0; b < 256; b++)
        {
            bool printable = b is >= '!' and <= '~' or >= 0xA1 and <= 0xAC or >= 0xAE and <= 0xFF;
            ByteToChar[b] = (char)(printable ? b : next++);
            CharToByte[ByteToChar[b]] = (short)b;
        }
    }

    /// <summary>The alphabet character that stands for <paramref name="b"/>.</summary>
    public static char CharOf(byte b) => ByteToChar[b];

    /// <summary>Text → its UTF-8 bytes written in the byte-level alphabet.</summary>
    public static string Encode(string text)
    {
        var bytes = Encoding.UTF8.GetBytes(text);
        return string.Create(bytes.Length, bytes, (span, b) => { for (int i = 0; i < b.Length; i++) span[i] = ByteToChar[b[i]]; });
    }

    /// <summary>
    /// Appends the bytes a token stands for. A token with a character outside the alphabet (an added token written
    /// in, say, CJK characters) contributes its own UTF-8 instead, as Hugging Face's ByteLevel decoder does.
    /// </summary>
    public static void AppendBytes(string token, List<byte> output)
    {
        int start = output.Count;
        foreach (char c in token)
        {
            if (c < CharToByte.Length && CharToByte[c] >= 0) { output.Add((byte)CharToByte[c]); continue; }
            output.RemoveRange(start, output.Count - start);
            output.AddRange(Encoding.UTF8.GetBytes(token));
            return;
        }
    }
}
