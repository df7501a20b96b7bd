namespace Ares.RedTeam.Attack;

/// <summary>The attackers' checkpoint directories, written so that a crash never leaves a half-written one.</summary>
internal static class AttackCheckpoint
{
    /// <summary>
    /// Lets <paramref name="write"/> fill a fresh directory beside <paramref name="dir"/>, then swaps it in
    /// (the old one is moved aside first and deleted last): at any moment a complete checkpoint exists under
    /// <paramref name="dir"/> or its ".old" twin.
    /// </summary>
    public static void Replace(string dir, Action<string> write)
    {
        string tmp = dir + ".tmp", old = dir + ".old";
        if (Directory.Exists(tmp)) Directory.Delete(tmp, recursive: true);
        Directory.CreateDirectory(tmp);
        write(tmp);
        if (Directory.Exists(old)) Directory.Delete(old, recursive: true);
        if (Directory.Exists(dir)) Directory.Move(dir, old);
        Directory.Move(tmp, dir);
        if (Directory.Exists(old)) Directory.Delete(old, recursive: true);
    }
}
