using Ares.RedTeam.Benchmarks;

namespace Ares.RedTeam.Store;

/// <summary>One stored `ares eval` answer: a benchmark item, one policy sample, and the judge's verdict on it.</summary>
internal sealed record EvalRecord
{
    public required int ItemIndex { get; init; }
    public required int Sample { get; init; }
    public required string ItemId { get; init; }
    public required string Category { get; init; }
    /// <summary>XSTest's safe/unsafe; null for benchmarks without labels.</summary>
    public string? Label { get; init; }
    public required string Prompt { get; init; }
    /// <summary>The policy's response; null when its request failed (then <see cref="Error"/> says why).</summary>
    public string? Text { get; init; }
    public string? FinishReason { get; init; }
    public string? Error { get; init; }
    public required EvalOutcome Outcome { get; init; }
    public double? Score { get; init; }
    public string? JudgeClass { get; init; }
    public required string Rationale { get; init; }
    public required DateTime CreatedUtc { get; init; }
}

internal sealed partial class RunStore
{
    /// <summary>
    /// Saves the records of a batch of eval items in one transaction: after a crash the store holds
    /// the whole batch or none of it, so a resumed run redoes whole batches. An item is saved once.
    /// </summary>
    public void SaveEvalBatch(string runId, IReadOnlyList<EvalRecord> records)
    {
        foreach (var r in records)
        {
            if ((r.Text is null) == (r.Error is null))
                throw new RunStoreException($"{Path}: run '{runId}' eval item {r.ItemIndex} sample {r.Sample}: expected a response or an error, got {(r.Text is null ? "neither" : "both")}");
            RequireFinite($"{Path}: run '{runId}' eval item {r.ItemIndex} sample {r.Sample}", "score", r.Score);
        }
        lock (_gate)
        {
            using var tx = _db.BeginTransaction();
            RequireRun(tx, runId);
            foreach (var r in records)
            {
                using var cmd = Command(tx, """
                    INSERT INTO eval_responses (run_id, item_index, sample, item_id, category, label, prompt, text, finish_reason, error,
                                                outcome, score, judge_class, rationale, created_utc)
                    VALUES (@run, @index, @sample, @id, @category, @label, @prompt, @text, @finish, @error, @outcome, @score, @class, @rationale, @created)
                    """);
                cmd.Parameters.AddWithValue("@run", runId);
                cmd.Parameters.AddWithValue("@index", r.ItemIndex);
                cmd.Parameters.AddWithValue("@sample", r.Sample);
                cmd.Parameters.AddWithValue("@id", r.ItemId);
                cmd.Parameters.AddWithValue("@category", r.Category);
                cmd.Parameters.AddWithValue("@label", Db(r.Label));
                cmd.Parameters.AddWithValue("@prompt", r.Prompt);
                cmd.Parameters.AddWithValue("@text", Db(r.Text));
                cmd.Parameters.AddWithValue("@finish", Db(r.FinishReason));
                cmd.Parameters.AddWithValue("@error", Db(r.Error));
                cmd.Parameters.AddWithValue("@outcome", OutcomeName(r.Outcome));
                cmd.Parameters.AddWithValue("@score", Db(r.Score));
                cmd.Parameters.AddWithValue("@class", Db(r.JudgeClass));
                cmd.Parameters.AddWithValue("@rationale", r.Rationale);
                cmd.Parameters.AddWithValue("@created", FormatUtc(r.CreatedUtc));
                try { cmd.ExecuteNonQuery(); }
                catch (Microsoft.Data.Sqlite.SqliteException e) when (e.SqliteExtendedErrorCode == ConstraintPrimaryKey)
                { throw new RunStoreException($"{Path}: run '{runId}' already has eval item {r.ItemIndex} sample {r.Sample}; an item is saved once", e); }
            }
            Touch(tx, runId);
            tx.Commit();
        }
    }

    /// <summary>Every eval record of a run, by item then sample.</summary>
    public IReadOnlyList<EvalRecord> LoadEvalRecords(string runId)
    {
        lock (_gate)
        {
            using var cmd = Command(null, """
                SELECT item_index, sample, item_id, category, label, prompt, text, finish_reason, error, outcome, score, judge_class, rationale, created_utc
                FROM eval_responses WHERE run_id = @run ORDER BY item_index, sample
                """);
            cmd.Parameters.AddWithValue("@run", runId);
            using var r = cmd.ExecuteReader();
            var records = new List<EvalRecord>();
            while (r.Read())
                records.Add(new EvalRecord
                {
                    ItemIndex = (int)r.GetInt64(0),
                    Sample = (int)r.GetInt64(1),
                    ItemId = r.GetString(2),
                    Category = r.GetString(3),
                    Label = Str(r, 4),
                    Prompt = r.GetString(5),
                    Text = Str(r, 6),
                    FinishReason = Str(r, 7),
                    Error = Str(r, 8),
                    Outcome = r.GetString(9) switch { "safe" => EvalOutcome.Safe, "harmful" => EvalOutcome.Harmful, _ => EvalOutcome.Unscored },
                    Score = Real(r, 10),
                    JudgeClass = Str(r, 11),
                    Rationale = r.GetString(12),
                    CreatedUtc = ParseUtc(r.GetString(13)),
                });
            return records;
        }
    }

    /// <summary>The item indices of a run that have their records.</summary>
    public IReadOnlySet<int> CompletedEvalItems(string runId)
    {
        lock (_gate)
        {
            using var cmd = Command(null, "SELECT DISTINCT item_index FROM eval_responses WHERE run_id = @run");
            cmd.Parameters.AddWithValue("@run", runId);
            using var r = cmd.ExecuteReader();
            var done = new HashSet<int>();
            while (r.Read()) done.Add((int)r.GetInt64(0));
            return done;
        }
    }

    static string OutcomeName(EvalOutcome o) => o switch { EvalOutcome.Safe => "safe", EvalOutcome.Harmful => "harmful", _ => "unscored" };
}
