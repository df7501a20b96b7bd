using Ares.Core.Tokenization;

namespace Ares.Models.Generation;

/// <summary>
/// Text is space-separated ids: for benchmarks and tests of the numerics, where what the ids
/// mean does not matter.
/// </summary>
internal sealed class IdTokenizer(int vocabSize, int? bos = null, IReadOnlySet<int>? stopIds = null) : ITokenizer
{
    public string Kind => "ids";
    public int VocabSize => vocabSize;
    public int? BosId => bos;
    public int? EosId => null;
    public int? PadId => null;
    public IReadOnlySet<int> StopIds { get; } = stopIds ?? new HashSet<int>();
    public int[] Encode(string text, bool addSpecialTokens = true) =>
        (addSpecialTokens && bos is int b ? [b] : Array.Empty<int>()).Concat(text.Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(int.Parse)).ToArray();
    public string Decode(IReadOnlyList<int> ids, bool skipSpecialTokens = true) => string.Join(' ', ids);
    public string IdToToken(int id) => id.ToString();
    public int? TokenToId(string token) => int.TryParse(token, out var i) ? i : null;
    public bool IsSpecial(int id) => id == bos;
    public string? ChatTemplate => null;
}
