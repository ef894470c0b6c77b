#!/usr/bin/env bash
# just vm: boots Debian's 6.12 kernel under QEMU (TCG) with the host's root shared read-only, the
# GPUs asked for, virtio keyboard, mouse and tablet, and runs COMMAND as root inside with DIR as
# its working directory (read-write). Exits with COMMAND's status.
#
# Usage: run.sh [--gpu virgl|2d|2d-2heads]... [--out DIR] [--shots SECS] [--qmp SOCKET] [--memory SIZE]
#               [--no-retry] -- 'COMMAND'
#   --gpu      one GPU per flag, in order (QEMU ids gpu0, gpu1, ...): virgl = virtio-gpu-gl with a
#              render node, rendered by the host's llvmpipe under Xvfb (at most one); 2d = a
#              display-only virtio-gpu; 2d-2heads = one with two connectors (screenshots gpuN and
#              gpuN:1). Each sits on its own PCIe root port (rp0, ...) for unplugging and plugging.
#   --out      the working directory shared with the guest (default: a new temporary one)
#   --shots    host-side screenshots of every GPU's scanout every SECS seconds, as
#              DIR/shots/gpuN-NNN.png (QMP screendump for 2d GPUs, the Xvfb screen for virgl)
#   --qmp      QEMU's monitor (QMP) on this Unix socket, for input and hotplug from the host
#   --host     a host-side command run beside the VM (input, screenshots, checks), with VM_OUT,
#              VM_QMP (the monitor), VM_SHOT_DEVICES and DISPLAY set; its failure fails the run
#   --no-retry a guest that leaves no exit status is not booted again
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

gpus=()
out=""
shots=""
qmp=""
memory=2G
retries=1
host=""
while [ $# -gt 0 ]; do
  case "$1" in
    --gpu) gpus+=("$2"); shift 2 ;;
    --out) out=$2; shift 2 ;;
    --shots) shots=$2; shift 2 ;;
    --qmp) qmp=$2; shift 2 ;;
    --host) host=$2; shift 2 ;;
    --memory) memory=$2; shift 2 ;;
    --no-retry) retries=0; shift ;;
    --) shift; break ;;
    -h | --help) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "vm: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
[ $# -gt 0 ] || { echo "vm: no command given (vm [options] -- 'COMMAND')" >&2; exit 2; }

for tool in qemu-system-x86_64 busybox cpio depmod; do
  command -v "$tool" >/dev/null 2>&1 || {
    echo "vm: $tool is missing: run 'just deps --vm' (Debian packages qemu-system-x86 busybox-static cpio kmod)" >&2
    exit 1
  }
done

kernel_root=$("$here/kernel.sh")
kernel=$(ls "$kernel_root"/boot/vmlinuz-* | head -n 1)
version=$(basename "$kernel" | sed 's/^vmlinuz-//')
cache=${TANDEM_VM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/tandem-vm}
initramfs="$cache/initramfs-$version-$(sha256sum "$here/mkinitramfs.sh" | cut -c1-12).cpio.gz"
[ -f "$initramfs" ] || bash "$here/mkinitramfs.sh" "$kernel_root" "$version" "$initramfs"

out=${out:-$(mktemp -d /tmp/tandem-vm.XXXXXX)}
mkdir -p "$out"
out=$(cd "$out" && pwd)
rm -f "$out/status"
printf '%s\n' "$*" >"$out/command.sh"

run=$(mktemp -d /tmp/tandem-vm-run.XXXXXX)
xvfb_pid=""
shots_pid=""
cleanup() {
  [ -n "$shots_pid" ] && kill "$shots_pid" 2>/dev/null
  [ -n "$xvfb_pid" ] && kill "$xvfb_pid" 2>/dev/null
  rm -rf "$run"
}
trap cleanup EXIT

ports=()
devices=()
modules=virtio_gpu,virtio_input,evdev
virgl=0
shot_devices=()
for index in "${!gpus[@]}"; do
  ports+=(-device "pcie-root-port,id=rp$index,chassis=$((index + 1)),slot=$((index + 1))")
  case "${gpus[$index]}" in
    2d)
      devices+=(-device "virtio-gpu-pci,id=gpu$index,bus=rp$index,xres=1024,yres=768")
      shot_devices+=("gpu$index")
      ;;
    2d-2heads)
      devices+=(-device "virtio-gpu-pci,id=gpu$index,bus=rp$index,xres=1024,yres=768,max_outputs=2")
      shot_devices+=("gpu$index" "gpu$index:1")
      ;;
    virgl)
      [ "$virgl" = 0 ] || { echo "vm: QEMU allows one virgl GPU per VM" >&2; exit 2; }
      virgl=1
      # Created first whatever its place: QEMU's SDL display aborts when its first console is
      # not the GL one. The guest still sees the GPUs in --gpu order (their ports' order).
      devices=(-device "virtio-gpu-gl-pci,id=gpu$index,bus=rp$index,xres=1024,yres=768" "${devices[@]}")
      shot_devices+=("x11:gpu$index")
      ;;
    *) echo "vm: unknown GPU kind ${gpus[$index]} (virgl, 2d or 2d-2heads)" >&2; exit 2 ;;
  esac
done

display=(-display none)
if [ "$virgl" = 1 ]; then
  command -v Xvfb >/dev/null || { echo "vm: Xvfb is missing: run 'just deps --vm' (Debian package xvfb)" >&2; exit 1; }
  number=$((100 + $$ % 400))
  while [ -e "/tmp/.X$number-lock" ]; do number=$((number + 1)); done
  # Larger than the guest's screen: QEMU's window is placed off the origin and must fit whole.
  Xvfb ":$number" -screen 0 2048x1536x24 -nolisten tcp >"$run/xvfb.log" 2>&1 &
  xvfb_pid=$!
  for _ in $(seq 1 50); do [ -e "/tmp/.X11-unix/X$number" ] && break; sleep 0.1; done
  export DISPLAY=":$number"
  # Screenshots take QEMU's window by its name (qmp.py).
  display=(-display sdl,gl=on -name tandem-vm)
fi

qmp_args=(-qmp "unix:$run/shots.qmp,server=on,wait=off")
[ -n "$host" ] && [ -z "$qmp" ] && qmp="$run/host.qmp"
[ -n "$qmp" ] && qmp_args+=(-qmp "unix:$qmp,server=on,wait=off")
host_status=0

for attempt in $(seq 0 "$retries"); do
  if [ -n "$shots" ] && [ ${#shot_devices[@]} -gt 0 ]; then
    mkdir -p "$out/shots"
    python3 "$here/qmp.py" shots "$run/shots.qmp" "$out/shots" "$shots" "${shot_devices[@]}" &
    shots_pid=$!
  fi
  host_pid=""
  if [ -n "$host" ]; then
    rm -f "$out"/host-*
    VM_OUT="$out" VM_QMP="$qmp" VM_SHOT_DEVICES="${shot_devices[*]}" bash -c "$host" \
      >"$out/host.log" 2>&1 &
    host_pid=$!
  fi
  qemu-system-x86_64 -accel tcg -cpu max -machine q35 -m "$memory" -smp 1 -nodefaults -no-reboot \
    "${display[@]}" -vga none -serial stdio -monitor none "${qmp_args[@]}" \
    -kernel "$kernel" -initrd "$initramfs" \
    -append "console=ttyS0 quiet loglevel=3 panic=-1 tandem.init=$here/guest-init.sh tandem.out=$out tandem.modules=$modules" \
    -fsdev local,id=root,path=/,security_model=none,readonly=on,multidevs=remap \
    -device virtio-9p-pci,fsdev=root,mount_tag=hostroot \
    -fsdev local,id=mods,path="$kernel_root/lib/modules",security_model=none,readonly=on \
    -device virtio-9p-pci,fsdev=mods,mount_tag=hostmods \
    -fsdev local,id=out,path="$out",security_model=none,multidevs=remap \
    -device virtio-9p-pci,fsdev=out,mount_tag=hostout \
    -device virtio-keyboard-pci,id=keyboard -device virtio-mouse-pci,id=mouse \
    -device virtio-tablet-pci,id=tablet -device virtio-multitouch-pci,id=touch "${ports[@]}" "${devices[@]}" </dev/null || true
  if [ -n "$shots_pid" ]; then
    wait "$shots_pid" 2>/dev/null || true
    shots_pid=""
  fi
  if [ -n "$host_pid" ]; then
    host_status=0
    wait "$host_pid" || host_status=$?
  fi
  [ -f "$out/status" ] && break
  echo "vm: the guest left no exit status (attempt $((attempt + 1)))" >&2
done
if [ -f "$out/status" ]; then
  if [ "$host_status" != 0 ]; then
    echo "vm: the host side failed (status $host_status); its log is $out/host.log:" >&2
    tail -n 20 "$out/host.log" >&2
    exit "$host_status"
  fi
  exit "$(cat "$out/status")"
fi
echo "vm: no exit status from the guest; its output is above and in $out" >&2
exit 125
