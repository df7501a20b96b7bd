#!/usr/bin/env bash
# Locates or installs what the test suite needs beyond the .NET SDK, so `./test.sh` works on a fresh machine.
# Today that is headless Chromium for the HTML report's browser test (tests/Ares.Reporting.Tests/BrowserTests.cs).
# Prints the variables to export (ARES_CHROMIUM=…) on stdout; progress and problems go to stderr.
# If nothing can be found or installed it says so and returns 0: the browser test then fails naming what is missing.
set -euo pipefail

find_chromium() {
  if [ -n "${ARES_CHROMIUM:-}" ] && [ -x "$ARES_CHROMIUM" ]; then echo "$ARES_CHROMIUM"; return 0; fi
  local name
  for name in chromium chromium-browser google-chrome; do
    if command -v "$name" >/dev/null 2>&1; then command -v "$name"; return 0; fi
  done
  return 1
}

if ! chromium=$(find_chromium); then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    echo "test.sh: installing chromium (Debian package) for the report's browser test" >&2
    log=${TMPDIR:-/tmp}/ares-test-chromium.log
    export DEBIAN_FRONTEND=noninteractive
    { apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium; } >"$log" 2>&1 \
      || { echo "test.sh: apt-get could not install chromium (log: $log); the browser test will fail" >&2; tail -5 "$log" >&2; }
  else
    echo "test.sh: chromium is missing and apt-get (as root) is unavailable; install it or set ARES_CHROMIUM, else the browser test fails" >&2
  fi
  chromium=$(find_chromium) || chromium=""
fi
if [ -n "$chromium" ]; then echo "ARES_CHROMIUM=$chromium"; fi
