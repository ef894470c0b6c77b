#!/usr/bin/env bash
# just vm-test: runs every VM scenario (scenarios.sh), one boot each, and reports PASS/FAIL per
# check, each scenario's time, and a closing line. Fails if any check fails or a VM gives no
# exit status. Usage: test.sh [--keep DIR] [SCENARIO...]
set -euo pipefail
vm=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$vm/../.." && pwd)
bin=${CARGO_TARGET_DIR:-$repo/target}/debug
keep=""
if [ "${1:-}" = "--keep" ]; then keep=$2; shift 2; fi
# shellcheck source=tests/vm/scenarios.sh
source "$vm/scenarios.sh"
all=(session seatd environments monitor display_only mixed_gpus hotplug parking lease churn)
selected=("$@")
[ ${#selected[@]} -gt 0 ] || selected=("${all[@]}")

for tool in tandem-compositor tandem-test-client; do
  [ -x "$bin/$tool" ] || { echo "vm-test: $bin/$tool is missing: run 'just build'" >&2; exit 1; }
done
root=${keep:-$(mktemp -d /tmp/tandem-vm-test.XXXXXX)}
mkdir -p "$root"
passed=0
failed=0
declare -A gpus_of=([session]="--gpu virgl" [seatd]="--gpu virgl" [environments]="" [display_only]="--gpu 2d --gpu 2d" [mixed_gpus]="--gpu 2d --gpu virgl" [hotplug]="--gpu virgl --gpu 2d" [monitor]="--gpu virgl" [churn]="--gpu virgl --gpu 2d" [parking]="--gpu 2d --gpu virgl" [lease]="--gpu 2d-2heads")
for scenario in "${selected[@]}"; do
  out="$root/$scenario"
  rm -rf "$out"
  mkdir -p "$out"
  "${scenario}_guest" >"$out/guest-script.sh"
  started=$SECONDS
  status=0
  # shellcheck disable=SC2086
  "$vm/run.sh" ${gpus_of[$scenario]} --out "$out" \
    --host "VM_DIR='$vm'; source '$vm/scenarios.sh'; ${scenario}_host" \
    -- "VM_DIR='$vm' TANDEM_BIN='$bin' bash guest-script.sh" >"$out/vm.log" 2>&1 || status=$?
  echo "== $scenario ($((SECONDS - started)) s, status $status)"
  grep -h -E '^(PASS|FAIL) ' "$out/console.log" "$out/host.log" 2>/dev/null || true
  grep -h -o "vm: ready at uptime .*" "$out/vm.log" | sed 's/^vm: /   guest /' || true
  [ -f "$out/timings.txt" ] && sed 's/^/   /' "$out/timings.txt"
  p=$(cat "$out/console.log" "$out/host.log" 2>/dev/null | grep -c '^PASS ' || true)
  f=$(cat "$out/console.log" "$out/host.log" 2>/dev/null | grep -c '^FAIL ' || true)
  if [ "$status" != 0 ] && [ "$f" = 0 ]; then
    echo "FAIL $scenario: the VM run ended with status $status (log: $out/vm.log)"
    tail -n 15 "$out/vm.log" | sed 's/^/   /'
    f=1
  fi
  passed=$((passed + p))
  failed=$((failed + f))
done
echo
echo "vm-test: screenshots and logs in $root"
echo "vm-test: $passed passed, $failed failed"
[ "$failed" = 0 ]
