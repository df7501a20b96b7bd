#!/usr/bin/env bash
# The full test suite (README's test command). Needs only the .NET 10 SDK; NuGet restores the rest.
set -euo pipefail
cd "$(dirname "$0")"
dotnet build Ares.slnx -c Release --nologo -v q
dotnet test Ares.slnx -c Release --no-build --nologo "$@"
