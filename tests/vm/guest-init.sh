#!/bin/bash
# PID 1 in the VM, on the host's read-only root: a writable /run and /var/tmp, udev, the DRM and
# input modules, then the command in $OUT/command.sh as root with $OUT as working directory.
# Its exit status goes to $OUT/status; then the VM powers off.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
out=$(sed -n 's/.*tandem.out=\([^ ]*\).*/\1/p' /proc/cmdline)
modules=$(sed -n 's/.*tandem.modules=\([^ ]*\).*/\1/p' /proc/cmdline)
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs shm /dev/shm
mount -t tmpfs tmp /var/tmp 2>/dev/null
mkdir -p /run/tmp /run/home /run/user/0 /run/udev /run/seatd
chmod 700 /run/user/0
export HOME=/run/home TMPDIR=/run/tmp XDG_RUNTIME_DIR=/run/user/0 XDG_CACHE_HOME=/run/home/.cache
/lib/systemd/systemd-udevd --daemon >/dev/null 2>&1
# Modules come from the kernel package unpacked on the host, mounted under /run/kernel.
for m in ${modules//,/ }; do modprobe -d /run/kernel "$m" || echo "vm: modprobe $m failed"; done
udevadm trigger --action=add --subsystem-match=drm --subsystem-match=input \
  --subsystem-match=graphics --subsystem-match=misc --subsystem-match=tty >/dev/null 2>&1
udevadm settle --timeout=30
echo "vm: ready at uptime $(cut -d' ' -f1 /proc/uptime) s"
cd "$out" || exit 1
bash "$out/command.sh" 2>&1 | tee "$out/console.log"
status=${PIPESTATUS[0]}
echo "$status" >"$out/status"
echo "vm: command exited with status $status at uptime $(cut -d' ' -f1 /proc/uptime) s"
sync
echo o >/proc/sysrq-trigger
sleep 10
