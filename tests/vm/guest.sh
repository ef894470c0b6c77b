# Guest-side helpers for VM scenarios (sourced by the scenario's guest script).
side=guest
# shellcheck source=tests/vm/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
export PATH="$TANDEM_BIN:$PATH"
export RUST_LOG=${RUST_LOG:-info}
# The compositor's main socket, once it is up (tandem-0 in a fresh VM).
export WAYLAND_DISPLAY=tandem-0
# Wait until the compositor maps N windows (at most 60 s).
windows_at_least() {
  local i=0
  until [ "$(tandem-compositor msg windows --json 2>/dev/null | grep -c '"app_id"')" -ge "$1" ]; do
    i=$((i + 1))
    [ $i -gt 300 ] && return 1
    sleep 0.2
  done
}
# Wait until the compositor answers over IPC (at most 60 s).
compositor_up() {
  local i=0
  until tandem-compositor msg outputs >/dev/null 2>&1; do
    i=$((i + 1))
    [ $i -gt 300 ] && return 1
    sleep 0.2
  done
}
# Wait until the compositor drives N outputs (at most 60 s).
outputs_at_least() {
  local i=0
  until [ "$(tandem-compositor msg outputs --json 2>/dev/null | grep -c '"name"')" -ge "$1" ]; do
    i=$((i + 1))
    [ $i -gt 300 ] && return 1
    sleep 0.2
  done
}
# Wait until the compositor drives exactly N outputs (at most 60 s).
outputs_exactly() {
  local i=0
  until [ "$(tandem-compositor msg outputs --json 2>/dev/null | grep -c '"name"')" -eq "$1" ]; do
    i=$((i + 1))
    [ $i -gt 300 ] && return 1
    sleep 0.2
  done
}
# Wait until COMMAND succeeds, at most SECONDS.
wait_for() {
  local seconds=$1 i=0
  shift
  until "$@"; do
    i=$((i + 1))
    [ $i -gt $((seconds * 5)) ] && return 1
    sleep 0.2
  done
}
# wl_output globals a client of the main socket sees.
wl_outputs() { wayland-info 2>/dev/null | grep -c "'wl_output'"; }
frames() { tandem-compositor msg outputs --json | python3 -c 'import json,sys; print(sum(o["frames"] for o in json.load(sys.stdin)["outputs"]))'; }
# Wait until a window of APP has drawn its first buffer (it has a size; at most 60 s).
window_drawn() {
  local i=0
  until tandem-compositor msg windows --json 2>/dev/null |
    python3 -c 'import json,sys; sys.exit(0 if any(w["app_id"] == sys.argv[1] and w["width"] > 0 for w in json.load(sys.stdin)["windows"]) else 1)' "$1"; do
    i=$((i + 1))
    [ $i -gt 60 ] && return 1
    sleep 0.5
  done
}
# Runs COMMAND expecting a refusal: exit status 1 (not a crash) and MESSAGE in its output, kept
# in LABEL.log.
expect_refusal() {
  local label=$1 message=$2 status=0
  shift 2
  "$@" >"$label.log" 2>&1 || status=$?
  check "$label: exit status 1, no crash (got $status)" [ "$status" = 1 ]
  check "$label: the message says \"$message\"" grep -q "$message" "$label.log"
}
