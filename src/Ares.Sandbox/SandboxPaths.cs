using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using Ares.Core.Formats;
using Ares.Core.Tokenization;
using Ares.Models;
using Ares.Models.Loading;
using Ares.Models.Nn;
using Ares.Models.Training;
using Ares.RedTeam.Catalog;
using static TorchSharp.torch;

namespace Ares.RedTeam.Sandbox;

/// <summary>Where the parts of a world live inside its directory.</summary>
internal sealed record SandboxPaths(string Root, string Policy, string Reward, string Judge, string Data, string WorldFile)
{
    public static SandboxPaths In(string root) => new(root, Path.Combine(root, "policy"), Path.Combine(root, "reward"),
        Path.Combine(root, "judge"), Path.Combine(root, "data"), Path.Combine(root, "world.json"));
}
