#!/usr/bin/env bash
# Runs the whole Wayland conformance suite (WLCS, Debian's wlcs package) against
# tandem-compositor through compositor/wlcs (libtandem_wlcs.so), with no filter.
#
# Prints passed / failed / skipped per test group and ends with "N passed, N failed".
# Fails on any failure not listed in compositor/wlcs/expected-failures.txt, on any listed
# failure that no longer fails (so the list can only shrink), on any skip for a protocol not
# (or a test) listed in compositor/wlcs/not-offered.txt, and when the runner itself dies.
# Usage: scripts/conformance.sh [LOG]   (LOG keeps the runner's whole output)
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
expected="$here/compositor/wlcs/expected-failures.txt"
not_offered="$here/compositor/wlcs/not-offered.txt"
library="${CARGO_TARGET_DIR:-$here/target}/debug/libtandem_wlcs.so"

runner=$(pkg-config --variable=test_runner wlcs 2>/dev/null || true)
if [ -z "$runner" ] || [ ! -x "$runner" ]; then
  echo "conformance: the WLCS runner is not installed; run 'just deps' (Debian package wlcs)" >&2
  exit 1
fi
if [ ! -f "$library" ]; then
  echo "conformance: $library is missing; run 'just build'" >&2
  exit 1
fi

runtime=$(mktemp -d)
trap 'rm -rf "$runtime"' EXIT
chmod 700 "$runtime"
export XDG_RUNTIME_DIR="$runtime"
export LIBGL_ALWAYS_SOFTWARE=1
log="${1:-$runtime/wlcs.log}"

started=$(date +%s)
"$runner" "$library" >"$log" 2>&1 || true
elapsed=$(($(date +%s) - started))

if ! grep -Eq '^\[==========\] [0-9]+ tests from .* (ran|run)\.' "$log"; then
  echo "conformance: the WLCS runner did not finish; the end of its output:" >&2
  tail -n 30 "$log" >&2
  exit 1
fi

awk -v expected_file="$expected" -v not_offered_file="$not_offered" -v elapsed="$elapsed" '
function group_of(name,    g) { g = name; sub(/\.[^.]*$/, "", g); return g }
function note(name, outcome,    g) {
  g = group_of(name)
  if (!(g in seen)) { seen[g] = 1; groups[++ngroups] = g }
  count[g, outcome]++
  total[outcome]++
  result[name] = outcome
}
BEGIN {
  while ((getline line < expected_file) > 0) {
    if (line ~ /^[ \t]*(#|$)/) continue
    split(line, parts, "  # ")
    name = parts[1]; sub(/[ \t]+$/, "", name)
    if (parts[2] == "") { printf "conformance: %s: no reason given for %s\n", expected_file, name > "/dev/stderr"; bad = 1 }
    expected[name] = parts[2]; nexpected++
  }
  while ((getline line < not_offered_file) > 0) {
    if (line ~ /^[ \t]*(#|$)/) continue
    split(line, parts, "  # ")
    name = parts[1]; sub(/[ \t]+$/, "", name)
    offered_not[name] = parts[2]
  }
}
/^\[ RUN      \] / { current = $4 }
/^\[          \] Missing extension: / { missing = $0; sub(/.*Missing extension: /, "", missing); sub(/>=.*/, "", missing); skip_reason[current] = missing }
/^\[       OK \] .* \([0-9]+ ms\)$/ { note($4, "passed") }
/^\[  FAILED  \] .*\([0-9]+ ms\)$/ { name = $4; sub(/,$/, "", name); note(name, "failed") }
/^\[     SKIP \] / { note($4, "skipped") }
END {
  printf "%-58s %7s %7s %7s\n", "group", "passed", "failed", "skipped"
  for (i = 1; i <= ngroups; i++) {
    g = groups[i]
    printf "%-58s %7d %7d %7d\n", g, count[g, "passed"], count[g, "failed"], count[g, "skipped"]
  }
  for (name in result) {
    if (result[name] == "failed" && !(name in expected)) unexpected[++nunexpected] = name
    if (result[name] == "skipped") {
      why = skip_reason[name]
      if (why == "" && (name in offered_not)) why = name
      if (why == "" || !(why in offered_not)) unlisted_skip[++nunlisted] = name " (" (why == "" ? "no reason printed" : "missing " why) ")"
      else skipped_for[why]++
    }
  }
  for (name in expected) if (result[name] != "failed") stale[++nstale] = name " (" (name in result ? result[name] : "not run") ")"
  printf "\nskipped, by the protocol the compositor does not offer:\n"
  for (why in skipped_for) printf "  %-44s %4d  %s\n", why, skipped_for[why], offered_not[why]
  printf "\nexpected failures: %d listed; the run took %d s\n", nexpected, elapsed
  for (i = 1; i <= nunexpected; i++) printf "UNEXPECTED FAILURE %s\n", unexpected[i]
  for (i = 1; i <= nstale; i++) printf "NO LONGER FAILS    %s: remove it from %s\n", stale[i], expected_file
  for (i = 1; i <= nunlisted; i++) printf "UNLISTED SKIP      %s\n", unlisted_skip[i]
  printf "%d passed, %d failed\n", total["passed"], total["failed"]
  exit (bad || nunexpected || nstale || nunlisted) ? 1 : 0
}' "$log"
