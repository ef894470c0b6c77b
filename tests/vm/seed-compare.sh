#!/usr/bin/env bash
# just seed-compare: boots the VM with a virgl GPU (render node: the windows' buffers, allocated
# by the test client through GBM) and a display-only virtio-gpu (its output shows the windows
# and draws them), runs `tandem-compositor seed-compare` as root inside (smithay 0.7's
# multigpu, then Tandem, one process each), and prints its table. The last line of stdout is
# its JSON; figures, summary.json and seed-compare.png are kept in DIR.
#
# Usage: seed-compare.sh [--out DIR] [seed-compare ARGS...] (see tandem-compositor seed-compare --help)
set -euo pipefail
vm=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$vm/../.." && pwd)
bin=${CARGO_TARGET_DIR:-$repo/target}/debug
out=""
if [ "${1:-}" = "--out" ]; then out=$2; shift 2; fi
out=${out:-$(mktemp -d /tmp/tandem-seed-compare.XXXXXX)}
mkdir -p "$out"
out=$(cd "$out" && pwd)
for tool in tandem-compositor tandem-test-client; do
  [ -x "$bin/$tool" ] || { echo "seed-compare: $bin/$tool is missing: run 'just build'" >&2; exit 1; }
done
args=""
[ $# -eq 0 ] || args=$(printf ' %q' "$@")
cat >"$out/guest.sh" <<GUEST
set -euo pipefail
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null || true
mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null || true
# QEMU's order: the virgl GPU is the first device (card0, renderD128), the 2d one the second.
'$bin/tandem-compositor' seed-compare --buffers-on /dev/dri/renderD128 --shown-on /dev/dri/card1 \
  --out '$out/figures' $args >'$out/seed-compare.out' 2>'$out/seed-compare.log'
GUEST
status=0
"$vm/run.sh" --gpu virgl --gpu 2d --out "$out" -- "bash guest.sh" >"$out/vm.log" 2>&1 || status=$?
if [ ! -s "$out/seed-compare.out" ]; then
  echo "seed-compare: no result (status $status); the guest's log:" >&2
  tail -n 30 "$out/seed-compare.log" "$out/vm.log" >&2 2>/dev/null || true
  exit 1
fi
grep -E '^\[' "$out/seed-compare.log" >&2 || true
grep -E 'seed-compare: FAIL' "$out/seed-compare.log" >&2 || true
echo "seed-compare: logs and figures in $out" >&2
cat "$out/seed-compare.out"
exit "$status"
