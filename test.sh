#!/usr/bin/env bash
# The full test suite (README's test command). Needs only the .NET 10 SDK; NuGet restores the rest.
set -euo pipefail
cd "$(dirname "$0")"
dotnet build Ares.slnx -c Release --nologo -v q
log=$(mktemp)
final=$(mktemp)
trap 'rm -f "$log" "$final"' EXIT
status=0
dotnet test Ares.slnx -c Release --no-build --nologo "$@" 2>&1 | tee "$log" || status=$?
cp "$log" "$final"
if [ "$status" -ne 0 ]; then
  # A test assembly that failed is run once more, and its second result counts. Reason: libtorch
  # (TorchSharp 0.107) has crashed natively at random inside optimizer steps ("Unknown scalar type",
  # see README Limits), not reproducible per test. A real failure fails twice; the retry is printed.
  failed=$(grep -oE 'Failed! .* - [A-Za-z.]+\.dll' "$log" | sed -E 's/.* - ([A-Za-z.]+)\.dll/\1/' | sort -u || true)
  if [ -n "$failed" ]; then
    status=0
    grep -vE "Failed! .* - ($(echo $failed | tr ' ' '|'))\.dll" "$log" > "$final" || true
    for project in $failed; do
      echo "RETRY: $project failed; running it once more (its second result counts)"
      dotnet test "tests/$project/$project.csproj" -c Release --no-build --nologo "$@" 2>&1 | tee -a "$final" || status=$?
    done
  fi
fi
# One closing line for the whole suite, summed over the test assemblies (second runs replace first ones).
awk '/(Passed|Failed)!/ { for (i = 1; i <= NF; i++) { if ($i == "Passed:") p += $(i+1); if ($i == "Failed:") f += $(i+1); if ($i == "Skipped:") s += $(i+1) } }
     END { printf "tests: %d passed, %d failed, %d skipped\n", p, f, s }' "$final"
exit $status
