#!/usr/bin/env bash
# Runs the test suite with a private runtime dir; fails (never skips) when something is missing.
set -euo pipefail

need_mesa() {
  local version
  version=$(dpkg-query -W -f='${Version}' libegl-mesa0 2>/dev/null || true)
  if [ -z "$version" ]; then
    echo "tests: Mesa's EGL (libegl-mesa0) is not installed; run 'just deps'" >&2
    exit 1
  fi
  if ! dpkg --compare-versions "$version" ge 24; then
    echo "tests: Mesa $version is too old for memfd dmabufs on llvmpipe (24+ needed);" >&2
    echo "       run 'just deps' (on Debian 12 it installs Mesa from bookworm-backports)" >&2
    exit 1
  fi
}

if command -v dpkg-query >/dev/null 2>&1; then
  need_mesa
fi

runtime=$(mktemp -d)
trap 'rm -rf "$runtime"' EXIT
chmod 700 "$runtime"
export XDG_RUNTIME_DIR="$runtime"
# Software rendering only, whatever the machine has.
export LIBGL_ALWAYS_SOFTWARE=1

log="$runtime/test.log"
status=0
# Binaries the tests run (the compositor, the test client, the example) are built first.
cargo build --workspace --all-targets 2>&1 | tee "$log" || status=$?
cargo test --workspace --all-targets --no-fail-fast 2>&1 | tee -a "$log" || status=$?
# The leak tests' own test: the switch that disables the destruction hook exists only with
# this feature, so that it ships in no other build.
cargo test -p tandem --features leak-test-switch --test leak_switch 2>&1 | tee -a "$log" || status=$?
# The library's doc examples (not among --all-targets).
cargo test -p tandem --doc 2>&1 | tee -a "$log" || status=$?
# A compositor written against smithay's renderer traits with smithay's use_system_lib on (where
# ImportAll needs ImportEgl) compiles against MultiRenderer: the example, with that feature.
cargo clippy -p tandem --features use_system_lib --lib --example headless_compositor -- -D warnings 2>&1 | tee -a "$log" || status=$?
# The stated minimum Rust version holds for every locked dependency (clippy's incompatible_msrv,
# run above, checks the code's own use of the standard library against it).
bash scripts/msrv.sh 2>&1 | tee -a "$log" || status=$?
# The crate packages and builds from its package alone.
cargo package -p tandem --allow-dirty 2>&1 | tail -n 5 | tee -a "$log" || status=$?
passed=$(grep -Eo '^test result: .* ([0-9]+) passed' "$log" | grep -Eo '[0-9]+ passed' | awk '{s+=$1} END {print s+0}')
failed=$(grep -Eo '^test result: .* ([0-9]+) failed' "$log" | grep -Eo '[0-9]+ failed' | awk '{s+=$1} END {print s+0}')
echo
echo "suite: $passed passed, $failed failed"
exit "$status"
