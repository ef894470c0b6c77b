#!/usr/bin/env bash
# Runs every command that README.md and docs/*.md show in their `sh` blocks, in a short form, and
# fails if any of them fails: a broken command in the docs cannot land. CI runs it after the test
# suite; compositor/tests/docs.rs checks that every shown command is listed here, and that each
# short form contains the shown command's words in order.
#
#   shown 'COMMAND AS SHOWN' -- COMMAND AS RUN     runs it; it must succeed
#   elsewhere 'COMMAND AS SHOWN' 'where it runs'   run by another part of CI
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"

work=$(mktemp -d)
compositor_pid=""
cleanup() {
  if [ -n "$compositor_pid" ]; then kill "$compositor_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
# A private runtime dir, and no display: the commands run as on a bare machine.
export XDG_RUNTIME_DIR="$work/runtime"
mkdir -m 700 "$XDG_RUNTIME_DIR"
unset DISPLAY WAYLAND_DISPLAY TANDEM_SOCKET
count=0

shown() {
  local doc=$1
  shift
  [ "$1" = "--" ] && shift
  echo "doc-commands: $doc"
  echo "              running: $*"
  local started=$SECONDS
  if ! "$@" >"$work/out" 2>&1; then
    cat "$work/out"
    echo "doc-commands: FAILED: $*" >&2
    exit 1
  fi
  echo "              ok in $((SECONDS - started)) s"
  count=$((count + 1))
}

# Starts the compositor in the background, as a person would in one terminal.
shown_background() {
  local doc=$1
  shift
  [ "$1" = "--" ] && shift
  echo "doc-commands: $doc"
  echo "              running in the background: $*"
  "$@" >"$work/compositor.log" 2>&1 &
  compositor_pid=$!
  count=$((count + 1))
}

elsewhere() {
  echo "doc-commands: $1 (run by $2)"
}

# Runs a daemon (COMMAND...) for SECONDS: it must still be running then.
runs_for() {
  local seconds=$1 status=0
  shift
  timeout "$seconds" "$@" || status=$?
  [ "$status" = 124 ]
}

# Runs a locker (COMMAND...) until the session is locked, then kills it (the session stays
# locked, as msg session says after).
locks_then_killed() {
  "$@" &
  local locker=$!
  for _ in $(seq 50); do
    tandem-compositor msg session | grep -q 'locked: yes' && break
    sleep 0.1
  done
  tandem-compositor msg session | grep -q 'locked: yes'
  kill -9 "$locker"
}

expect_in_output() {
  if ! grep -q -- "$1" "$work/out"; then
    cat "$work/out"
    echo "doc-commands: expected '$1' in the output above" >&2
    exit 1
  fi
}

# README.md
elsewhere 'cargo install --locked just' '.ci/run, when just is missing'
elsewhere 'just test' '.ci/run'
elsewhere 'just soak 10' '.ci/run (just soak 3)'
shown 'just install' -- just install
shown 'just install --session' -- just install --session --prefix "$work/prefix"
desktop-file-validate "$work/prefix/share/wayland-sessions/tandem.desktop"
"$work/prefix/bin/tandem-session" --dry-run >"$work/out" 2>&1 || { cat "$work/out"; exit 1; }
shown 'just demo' -- just demo --duration 5
expect_in_output 'bytes retained after all clients exited: 0'
shown 'just demo --screenshot-dir shots' -- just demo --screenshot-dir "$work/shots" --duration 5
test -s "$work/shots/output-0.png"
shown 'just demo --dmabuf' -- just demo --dmabuf --duration 5
expect_in_output 'shadow_buffer='
expect_in_output 'bytes retained after all clients exited: 0'
shown 'just example --client weston-simple-shm --until-windows 1 --frames 30 --screenshot example.png' \
  -- just example --client weston-simple-shm --until-windows 1 --frames 30 --screenshot "$work/example.png"
expect_in_output 'after the clients left: 0 bytes held'
test -s "$work/example.png"

# docs/benchmarks.md
shown 'just copy-costs' -- just copy-costs "$work/copy-costs.md" --samples 1
tail -n 1 "$work/out" | python3 -c 'import json, sys; table = json.load(sys.stdin); frames = table["frames"]; sys.exit(0 if len(table["rows"]) == 27 and frames["tandem"]["allocations"] is not None and frames["ratio"] > 0 else 1)'
grep -q '| shadow slot | 4K | 1% |' "$work/copy-costs.md"
grep -q '| Tandem MultiRenderer |' "$work/copy-costs.md"

# The hand-run example: the compositor in one terminal, msg in another.
shown_background 'tandem-compositor --gpus 2 --output 1280x800@0 --output 1280x800@1 --screenshot-dir shots -- foot' \
  -- tandem-compositor --exit-after 120 --gpus 2 --output 1280x800@0 --output 1280x800@1 \
  --screenshot-dir "$work/hand/shots" -- foot
for _ in $(seq 1 60); do
  if tandem-compositor msg windows 2>/dev/null | grep -q foot; then break; fi
  sleep 1
done
tandem-compositor msg windows >"$work/out"
expect_in_output foot
shown 'tandem-compositor msg vram' -- tandem-compositor msg vram
expect_in_output foot

# docs/compositor.md
shown 'tandem-compositor msg windows [--json]' -- tandem-compositor msg windows --json
shown 'tandem-compositor msg gpus [--json]' -- tandem-compositor msg gpus --json
shown 'tandem-compositor msg gpus' -- tandem-compositor msg gpus
expect_in_output 'drawn here'
shown 'tandem-compositor msg vram [--json]' -- tandem-compositor msg vram --json
expect_in_output '"total_bytes"'
shown 'tandem-compositor msg gpu-remove --gpu soft1' -- tandem-compositor msg gpu-remove --gpu soft1
shown 'tandem-compositor msg gpu-add' -- tandem-compositor msg gpu-add
shown 'tandem-compositor msg output-add --gpu soft0 --size 640x480' -- tandem-compositor msg output-add --gpu soft0 --size 640x480
expect_in_output 'added HEADLESS-3'
shown 'tandem-compositor msg output-remove --output HEADLESS-3' -- tandem-compositor msg output-remove --output HEADLESS-3
shown 'tandem-compositor msg screenshot --output HEADLESS-1 shot.png' -- tandem-compositor msg screenshot --output HEADLESS-1 "$work/shot.png"
expect_in_output 'wrote'
test -s "$work/shot.png"
hand_display=$(ls "$XDG_RUNTIME_DIR" | grep -E '^tandem-[0-9]+$' | head -n 1)
mkdir -p "$work/grim"
shown 'grim shot.png' -- env WAYLAND_DISPLAY="$hand_display" grim "$work/grim/shot.png"
test -s "$work/grim/shot.png"
# wf-recorder stops at the first frame after Ctrl-C, and a still screen has none (copies
# wait for a change): an animated window on HEADLESS-1 keeps it changing.
WAYLAND_DISPLAY="$hand_display" weston-simple-shm > "$work/simple-shm.log" 2>&1 &
animation_pid=$!
# Ctrl-C after 3 s, as a person stops it.
shown 'wf-recorder -o HEADLESS-1 -f cast.mp4' -- timeout --preserve-status -k 10 -s INT 3 env WAYLAND_DISPLAY="$hand_display" wf-recorder -o HEADLESS-1 -f "$work/cast.mp4"
kill "$animation_pid"
wait "$animation_pid" || true
test -s "$work/cast.mp4"
shown 'wlr-randr' -- env WAYLAND_DISPLAY="$hand_display" wlr-randr
expect_in_output 'HEADLESS-1'
shown 'wlr-randr --output HEADLESS-1 --scale 2 --pos 0,0' -- env WAYLAND_DISPLAY="$hand_display" wlr-randr --output HEADLESS-1 --scale 2 --pos 0,0
tandem-compositor msg outputs --json >"$work/out"
expect_in_output '"scale": 2.0'
printf 'profile {\n  output HEADLESS-1 position 0,0 scale 1\n  output HEADLESS-2 position 1280,0\n}\n' >"$work/kanshi.conf"
shown 'kanshi -c kanshi.conf' -- runs_for 3 env WAYLAND_DISPLAY="$hand_display" kanshi -c "$work/kanshi.conf"
tandem-compositor msg outputs --json | python3 -c 'import json, sys; scales = {o["name"]: o["scale"] for o in json.load(sys.stdin)["outputs"]}; sys.exit(0 if scales["HEADLESS-1"] == 1.0 else 1)'
shown "swayidle -w timeout 300 'swaylock -f -c 204060'" -- runs_for 3 env WAYLAND_DISPLAY="$hand_display" swayidle -w timeout 300 'swaylock -f -c 204060'
shown 'swaylock -c 204060' -- locks_then_killed env WAYLAND_DISPLAY="$hand_display" swaylock -c 204060
shown 'tandem-compositor config --default' -- tandem-compositor config --default
expect_in_output '\[bindings\]'
mkdir -p "$work/config/tandem"
tandem-compositor config --default >"$work/config/tandem/config.toml"
shown 'tandem-compositor config --check' -- env XDG_CONFIG_HOME="$work/config" tandem-compositor config --check
expect_in_output ': ok'
shown 'tandem-compositor msg reload' -- tandem-compositor msg reload
shown 'tandem-compositor msg action focus-next' -- tandem-compositor msg action focus-next
shown 'tandem-compositor msg power off --output HEADLESS-2' -- tandem-compositor msg power off --output HEADLESS-2
tandem-compositor msg outputs >"$work/out"
expect_in_output 'off'
shown 'tandem-compositor msg power on' -- tandem-compositor msg power on
shown 'tandem-compositor msg output-render --output HEADLESS-2 --gpu soft0' -- tandem-compositor msg output-render --output HEADLESS-2 --gpu soft0
tandem-compositor msg outputs --json | python3 -c 'import json, sys; gpus = {o["name"]: o["render_gpu"] for o in json.load(sys.stdin)["outputs"]}; sys.exit(0 if gpus["HEADLESS-2"] == "soft0" else 1)'
tandem-compositor msg outputs --json | python3 -c 'import json, sys; sys.exit(0 if all(o["powered"] for o in json.load(sys.stdin)["outputs"]) else 1)'
shown 'tandem-compositor msg session [--json]' -- tandem-compositor msg session --json
expect_in_output '"locker": false'
shown 'tandem-compositor msg clients [--json]' -- tandem-compositor msg clients --json
expect_in_output '"clients"'
shown 'tandem-compositor msg quit' -- tandem-compositor msg quit
if ! wait "$compositor_pid"; then
  cat "$work/compositor.log"
  echo "doc-commands: the compositor did not exit cleanly after msg quit" >&2
  exit 1
fi
compositor_pid=""
test -s "$work/hand/shots/output-0.png"
shown 'tandem-compositor --backend tty --dry-run' -- tandem-compositor --backend tty --dry-run
elsewhere 'tandem-compositor --backend tty -- foot' 'just vm-test (the seatd scenario runs it in a VM)'
elsewhere 'just vm-test' '.ci/run'
elsewhere 'just conformance' '.ci/run'
shown 'just vm-test environments' -- just vm-test environments
shown "just vm --gpu virgl --shots 2 -- 'ls /dev/dri'" -- just vm --gpu virgl --shots 2 --out "$work/vm" -- 'ls /dev/dri'
expect_in_output renderD128
shown 'tandem-compositor --backend headless --gpus 2 --output 640x480@0 --park-after 1 --exit-after 4' \
  -- env RUST_LOG=info tandem-compositor --backend headless --gpus 2 --output 640x480@0 --park-after 1 --exit-after 4
expect_in_output 'parked idle GPU'

# docs/benchmarks.md
rm -rf seed-compare-out
shown 'just seed-compare' -- just seed-compare --windows 2 --steady-frames 60 --idle-seconds 1
# The last line is the JSON both libraries' figures are read from.
tail -n 1 "$work/out" | python3 -c '
import json, sys
j = json.load(sys.stdin)
assert j["tandem"]["retained_bytes_per_window"] == 0, j
assert j["smithay_multigpu"]["retained_bytes_per_window"] > 0, j
assert j["tandem"]["dmabufs_created_per_steady_frame"] == 0, j'
test -s seed-compare-out/figures/seed-compare.png
rm -rf stress-out
# Per closed window, RSS noise shrinks with the windows closed: 2 cycles of 8 windows sit at
# the 1%-of-a-window limit (0.5-3.8 KiB of 2.6), 3 of 32 well under it (0.4-0.7 KiB).
shown 'just stress' -- just stress --windows 32 --cycles 3
test -s stress-out/memory.png
shown 'just bench' -- just bench --warm-up-time 0.2 --measurement-time 0.5 --sample-size 10
shown 'just fuzz' -- just fuzz 200 20

echo
echo "doc-commands: $count passed, 0 failed"
