using Ares.Models.Loading;
using Ares.RedTeam.Catalog;
using Ares.RedTeam.Chat;
using Ares.RedTeam.Judges;
using Ares.RedTeam.Mentor;
using Ares.RedTeam.Rewards;
using Ares.RedTeam.Store;

namespace Ares.RedTeam.Probe;

/// <summary>
/// Builds the components a probe config names (catalog, mentor, policy, RM, judge) and owns them
/// for the length of a run.
/// </summary>
internal sealed class ProbeComponents : IDisposable
{
    public required ComponentCatalog Catalog { get; init; }
    public required ISafetyMentor Mentor { get; init; }
    public required IChatModel Policy { get; init; }
    public required IRewardModel RewardModel { get; init; }
    public required IJudge Judge { get; init; }
    /// <summary>The world both the policy and the RM come from, when they do: its ground truth grades the probe.</summary>
    public IModelWorld? World { get; init; }

    public static ProbeComponents Create(ProbeConfig config, Func<string, IModelWorld> sandbox)
    {
        var worlds = new Dictionary<string, IModelWorld>();
        IModelWorld World(string name) => worlds.TryGetValue(name, out var w) ? w : worlds[name] = sandbox(name);
        var catalog = config.CatalogPath is null ? ComponentCatalog.Default() : ComponentCatalog.Load(config.CatalogPath);
        var built = new List<IDisposable>();
        try
        {
            var policy = Keep(built, Chat(config.Policy, World, s => s.PolicyDir));
            var rm = Keep(built, config.RewardModel switch
            {
                SandboxModelSpec s => LocalRewardModel.Load(World(s.World).RewardDir),
                LocalModelSpec l => LocalRewardModel.Load(l.Path, new LoadOptions { ChatFormat = l.ChatFormat }),
                EndpointModelSpec e => (IRewardModel)new EndpointRewardModel(new ScoringEndpoint(e.Options, e.Api!.Value)),
                _ => throw new ArgumentException($"{config.Source}: unsupported reward_model {config.RewardModel}"),
            });
            IJudge judge = Keep(built, CreateJudge(config.Judge, World, config.Source));
            ISafetyMentor mentor = config.Mentor.IsTemplate
                ? new TemplateMentor(catalog)
                : new LlmMentor(Chat(config.Mentor.Llm!, World, s => s.PolicyDir), catalog, new LlmMentorOptions { MaxAttempts = config.Mentor.MaxAttempts }, ownsModel: true);
            var world = config.Policy is SandboxModelSpec p && config.RewardModel is SandboxModelSpec r && p.World == r.World ? World(p.World) : null;
            return new ProbeComponents { Catalog = catalog, Mentor = mentor, Policy = policy, RewardModel = rm, Judge = judge, World = world };
        }
        catch
        {
            foreach (var d in built) d.Dispose();
            throw;
        }
    }

    static T Keep<T>(List<IDisposable> built, T x) where T : IDisposable
    {
        built.Add(x);
        return x;
    }

    /// <summary>The chat model a spec names (a sandbox world gives the model that role picks); shared with `ares eval`.</summary>
    internal static IChatModel Chat(ModelSpec spec, Func<string, IModelWorld> world, Func<IModelWorld, string> role) => spec switch
    {
        SandboxModelSpec s => LocalChatModel.Load(role(world(s.World))),
        LocalModelSpec l => LocalChatModel.Load(l.Path, new LoadOptions { ChatFormat = l.ChatFormat }),
        EndpointModelSpec e => Endpoint(e),
        _ => throw new ArgumentException($"unsupported model spec {spec}"),
    };

    internal static OpenAiChatModel Endpoint(EndpointModelSpec e) => new(e.Options);

    /// <summary>The probe config's judge (checkpoint selection in repair uses the same one).</summary>
    internal static IJudge CreateJudge(ProbeConfig config, Func<string, IModelWorld> world) => CreateJudge(config.Judge, world, config.Source);

    /// <summary>The judge a spec names (a world gives its judge); shared with `ares attack`. <paramref name="source"/> names the config in errors.</summary>
    internal static IJudge CreateJudge(JudgeSpec spec, Func<string, IModelWorld> world, string source) => spec switch
    {
        { Kind: JudgeKind.Refusal } => new RefusalJudge(),
        { Kind: JudgeKind.Classifier, Model: SandboxModelSpec s } => ClassifierJudge.Load(world(s.World).JudgeDir),
        { Kind: JudgeKind.Classifier, Model: LocalModelSpec l } => ClassifierJudge.Load(l.Path, new LoadOptions { ChatFormat = l.ChatFormat }),
        { Kind: JudgeKind.Guard, Model: LocalModelSpec l } => LocalGuardJudge.Load(l.Path, new LoadOptions { ChatFormat = l.ChatFormat }),
        { Kind: JudgeKind.Classifier, Model: EndpointModelSpec e } => new EndpointClassifierJudge(new ScoringEndpoint(e.Options, e.Api!.Value), e.HarmfulLabel, e.HarmfulIndex),
        { Kind: JudgeKind.Guard, Model: EndpointModelSpec e } => new ChatGuardJudge(Endpoint(e)),
        var j => throw new ArgumentException($"{source}: judge {j.Kind} cannot use {j.Model}"),
    };

    public void Dispose()
    {
        Mentor.Dispose();
        Policy.Dispose();
        RewardModel.Dispose();
        Judge.Dispose();
    }
}
