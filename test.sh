#!/usr/bin/env bash
# The full test suite (README's test command). Needs only the .NET 10 SDK; NuGet restores the packages and
# build/test-deps.sh locates (or, as root on Debian, installs) headless Chromium for the report's browser test.
set -euo pipefail
cd "$(dirname "$0")"
deps=$(build/test-deps.sh)
if [ -n "$deps" ]; then export "${deps?}"; fi
# Formatting as .editorconfig sets it (line length is checked by tests/Ares.Build.Tests/FormattingTests.cs).
dotnet format whitespace Ares.slnx --verify-no-changes -v q || { echo "formatting differs from .editorconfig: run 'dotnet format whitespace Ares.slnx'" >&2; exit 1; }
dotnet build Ares.slnx -c Release --nologo -v q
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
dotnet test Ares.slnx -c Release --no-build --nologo "$@" 2>&1 | tee "$log" || status=$?
# One closing line for the whole suite, summed over the test assemblies.
awk '/(Passed|Failed)!/ { for (i = 1; i <= NF; i++) { if ($i == "Passed:") p += $(i+1); if ($i == "Failed:") f += $(i+1); if ($i == "Skipped:") s += $(i+1) } }
     END { printf "tests: %d passed, %d failed, %d skipped\n", p, f, s }' "$log"
exit $status
