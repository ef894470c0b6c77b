# Host-side helpers for VM scenarios (sourced by the scenario's host function).
side=host
# shellcheck source=tests/vm/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
mkdir -p "$OUT/shots"
# The first GPU's scanout (the Xvfb screen for virgl, QMP screendump for 2d) into shots/NAME.png.
shot() {
  local device=${2:-${VM_SHOT_DEVICES%% *}}
  python3 "$vm_dir/qmp.py" shot "$VM_QMP" "$device" "$OUT/shots/$1.png"
}
input() { python3 "$vm_dir/qmp.py" input "$VM_QMP" "$@"; }
pixels() { python3 "$vm_dir/pixels.py" "$@"; }
# A value out of a JSON file the guest wrote, by a Python expression on `j`.
json() { python3 -c "import json,sys; j=json.load(open(sys.argv[1])); print($2)" "$OUT/$1"; }
# Checks that shots/SHOT.png shows the WxH window of the guest's WINDOWS.json in COLOUR
# (RRGGBB) over at least 80% of the part of it that no window above covers.
expect_window() {
  local shot=$1 windows=$2 colour=$3 size=$4 found visible
  read -r found visible < <(pixels window "$OUT/shots/$shot.png" "$OUT/$windows" "$size" "$colour" || echo "0 0")
  check "$shot shows the $size window in $colour ($found of its $visible uncovered pixels)" \
    [ "$visible" -gt 500 -a "$found" -gt $((visible * 8 / 10)) ]
}
