using Ares.RedTeam.Catalog;

namespace Ares.RedTeam.Mentor;

/// <summary>An adversarial test case: the prompt and the two reference responses, with the tuple it came from.</summary>
internal sealed record MentorCase(ComponentTuple Components, string Prompt, string MaliciousResponse, string SafeResponse);
