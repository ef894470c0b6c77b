# Helpers for VM scenarios, sourced by the guest script and by the host-side script. They talk
# through files in the shared directory: the guest writes $OUT/guest-NAME, the host writes
# $OUT/host-NAME, and each side waits for the other's.
vm_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
OUT=${OUT:-${VM_OUT:-$PWD}}

# Say STEP is reached (to the other side).
tell() { date +%s.%N >"$OUT/$side-$1"; }
# Wait until the other side reached STEP (at most SECS, default 120).
await() {
  local other=host
  [ "$side" = host ] && other=guest
  local waited=0
  until [ -e "$OUT/$other-$1" ]; do
    sleep 0.2
    waited=$((waited + 1))
    if [ "$waited" -gt $((${2:-120} * 5)) ]; then
      echo "vm: $side waited in vain for $other-$1" >&2
      return 1
    fi
  done
}
# Log a check's outcome; a failed one is counted and makes the scenario fail.
check() {
  local what=$1
  shift
  if "$@"; then
    echo "PASS $what"
  else
    echo "FAIL $what"
    echo "$what" >>"$OUT/failures"
  fi
}
