#!/usr/bin/env bash
# The generic Wayland protocol fuzzer against the headless compositor.
#
# Starts tandem-compositor headless on two software GPUs (mirrored outputs, a private
# XDG_RUNTIME_DIR, LIBGL_ALWAYS_SOFTWARE=1), runs tandem-test-client --fuzz against it for SECONDS
# (random, well-formed requests to every global it offers, from several clients killed at random
# points, spread over the main socket and GPU 1's), then checks that the ledger holds 0 bytes for clients once every fuzz client is gone,
# stops the compositor with `msg quit` and checks its exit status.
#
# Prints the seed, the fuzzer's report (per-interface request counts, globals reached, protocol
# errors), the compositor's log path (the tail of the log on a crash), and as the last line the
# fuzzer's `fuzz-protocol: N requests, N clients, N protocol errors, N crashes`, with the crash
# counted if the compositor died or exited non-zero after the fuzzer was done. Exits non-zero on
# a crash or when client bytes are left in the ledger.
#
# Usage: scripts/fuzz-protocol.sh SECONDS [--clients N] [--seed S] [--skip INTERFACE.REQUEST]...
# Run `just build` first (`just fuzz-protocol` does).
set -uo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
bin="${CARGO_TARGET_DIR:-$here/target}/debug"
seconds=${1:-}
if [ -z "$seconds" ]; then
  echo "usage: scripts/fuzz-protocol.sh SECONDS [fuzzer options]" >&2
  exit 2
fi
shift
for program in tandem-compositor tandem-test-client; do
  if [ ! -x "$bin/$program" ]; then
    echo "fuzz-protocol: $bin/$program is missing; run 'just build'" >&2
    exit 1
  fi
done

bin=$(cd "$bin" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/tandem-fuzz.XXXXXX")
runtime="$work/runtime"
mkdir -m 700 "$runtime"
export XDG_RUNTIME_DIR="$runtime"
export LIBGL_ALWAYS_SOFTWARE=1
unset DISPLAY WAYLAND_DISPLAY WAYLAND_SOCKET TANDEM_SOCKET
log="$work/compositor.log"

# A core dump (in $work) gives the backtrace of a crash that is not a panic.
ulimit -c unlimited 2>/dev/null || true
(cd "$work" && RUST_LOG="${RUST_LOG:-warn}" RUST_BACKTRACE=1 exec "$bin/tandem-compositor" \
  --backend headless --gpus 2 --layout mirror --xwayland off >"$log" 2>&1) &
compositor=$!
# Running: neither gone nor a zombie waiting for `wait`.
running() {
  local state
  state=$(sed -n 's/^[0-9]* (.*) \([A-Z]\) .*/\1/p' "/proc/$compositor/stat" 2>/dev/null)
  [ -n "$state" ] && [ "$state" != Z ] && [ "$state" != X ]
}
cleanup() {
  if running; then kill -9 "$compositor" 2>/dev/null || true; fi
  rm -rf "$runtime"
}
trap cleanup EXIT
echo "fuzz-protocol: compositor pid $compositor, log $log"

display=""
for _ in $(seq 300); do
  display=$(sed -n 's/^WAYLAND_DISPLAY=//p' "$log" | head -n 1)
  [ -n "$display" ] && [ -S "$runtime/$display" ] && break
  if ! running; then break; fi
  sleep 0.1
done
if [ -z "$display" ] || ! running; then
  echo "fuzz-protocol: the compositor did not start; the end of its log:" >&2
  tail -n 30 "$log" >&2
  echo "fuzz-protocol: 0 requests, 0 clients, 0 protocol errors, 1 crashes"
  exit 1
fi
export WAYLAND_DISPLAY="$display"

# Half the clients on the main socket (GPU 0), half on GPU 1's, whose dmabufs GPU 0 shows through
# copies.
"$bin/tandem-test-client" --fuzz "$seconds" --compositor-pid "$compositor" \
  --history-dir "$work" --displays "$display,$display-gpu1" "$@" \
  >"$work/fuzz.out" 2>"$work/fuzz.err"
fuzz_status=$?
# The seed, then the fuzzer's report; the wayland libraries' own complaints about each protocol
# error stay in fuzz.err.
grep -v '^fuzz-protocol:' "$work/fuzz.out" || true
grep -E '^(fuzz|    )' "$work/fuzz.err" || true
last=$(grep '^fuzz-protocol:' "$work/fuzz.out" | tail -n 1)
if [ -z "$last" ] || [ "$fuzz_status" -gt 1 ]; then
  echo "fuzz-protocol: the fuzzer failed (status $fuzz_status); its stderr: $work/fuzz.err" >&2
  tail -n 20 "$work/fuzz.err" >&2
  last="fuzz-protocol: 0 requests, 0 clients, 0 protocol errors, 0 crashes"
  failed=1
else
  failed=0
fi
crashes=$(sed -n 's/.* \([0-9]*\) crashes$/\1/p' <<<"$last")
crashes=${crashes:-0}

compositor_failed=0
ledger=""
hung=0
if [ "$crashes" -gt 0 ] && running; then
  # It stopped answering (a hang is counted as a crash): show where it is stuck, then stop it.
  hung=1
  echo "fuzz-protocol: the compositor hangs; its main thread:" >&2
  if command -v gdb >/dev/null; then
    timeout 120 gdb -batch -ex "bt 25" "/proc/$compositor/exe" "$compositor" 2>/dev/null | grep '^#' | cut -c1-240 >&2 || true
  else
    echo "  (install gdb for a backtrace)" >&2
  fi
  kill -9 "$compositor" 2>/dev/null || true
elif running; then
  # Every fuzz client is gone: nothing may stay in the ledger for clients.
  for _ in $(seq 50); do
    ledger=$(timeout 5 "$bin/tandem-compositor" msg vram --json 2>/dev/null \
      | tr -d ' \n' | sed -n 's/.*"client_bytes":\([0-9]*\).*/\1/p')
    [ "$ledger" = "0" ] && break
    if ! running; then break; fi
    sleep 0.1
  done
  echo "fuzz-protocol: bytes held for clients after the fuzz clients left: ${ledger:-unknown}"
  if [ "$ledger" != "0" ]; then
    timeout 5 "$bin/tandem-compositor" msg vram 2>/dev/null || true
    failed=1
  fi
  timeout 10 "$bin/tandem-compositor" msg quit >/dev/null 2>&1 || true
  for _ in $(seq 100); do
    running || break
    sleep 0.1
  done
fi
if running; then
  echo "fuzz-protocol: the compositor did not quit within 10 s of msg quit" >&2
  kill -9 "$compositor" 2>/dev/null || true
  compositor_failed=1
fi
wait "$compositor" 2>/dev/null
compositor_status=$?
if [ "$compositor_status" -ne 0 ] && [ "$hung" = 0 ]; then
  echo "fuzz-protocol: the compositor exited with status $compositor_status" >&2
  compositor_failed=1
fi
if [ "$compositor_failed" = 1 ] || [ "$crashes" -gt 0 ]; then
  if [ "$crashes" -eq 0 ]; then
    crashes=1
    last=$(sed "s/ [0-9]* crashes$/ $crashes crashes/" <<<"$last")
  fi
  if [ "$hung" = 1 ]; then
    echo "fuzz-protocol: the compositor's log: $log" >&2
  elif grep -q 'panicked' "$log"; then
    echo "fuzz-protocol: the end of the compositor's log ($log):" >&2
    grep -A 12 'panicked' "$log" | head -n 40 >&2
  else
    echo "fuzz-protocol: the end of the compositor's log ($log):" >&2
    tail -n 30 "$log" >&2
  fi
  core=$(ls "$work"/core* 2>/dev/null | head -n 1)
  if [ -n "$core" ]; then
    echo "fuzz-protocol: the crashing thread, from $core:" >&2
    if command -v gdb >/dev/null; then
      timeout 120 gdb -batch -ex "bt 30" "$bin/tandem-compositor" "$core" 2>/dev/null \
        | grep '^#' | cut -c1-240 >&2 || true
    else
      echo "  (install gdb for a backtrace)" >&2
    fi
    rm -f "$core"
  fi
  failed=1
fi
echo "$last"
exit "$failed"
