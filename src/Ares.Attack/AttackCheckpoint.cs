using Ares.Models.Loading;
using Ares.Models.Lora;

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

    /// <summary>
    /// Loads the SFT attacker <paramref name="attackerDir"/> and its context ids, with LoRA: the adapter of
    /// the checkpoint under <paramref name="outDir"/> when <paramref name="resume"/> and one was completed
    /// (its <paramref name="stateFile"/> exists), else fresh adapters. The model is disposed if this fails.
    /// </summary>
    public static (LoadedModel Attacker, int[] Context, string Checkpoint, bool Continuing) LoadAttacker(
        string attackerDir, AttackerContext context, LoraConfig lora, string outDir, string checkpointDir, string stateFile, bool resume)
    {
        var attacker = ModelLoader.Load(attackerDir);
        try
        {
            var ids = context.ContextIds(attacker);
            string checkpoint = Path.Combine(outDir, checkpointDir);
            bool continuing = resume && File.Exists(Path.Combine(checkpoint, stateFile));
            if (continuing) LoraAdapters.LoadAdapter(attacker.Model, checkpoint);
            else LoraAdapters.Apply(attacker.Model, lora);
            return (attacker, ids, checkpoint, continuing);
        }
        catch { attacker.Dispose(); throw; }
    }
}
