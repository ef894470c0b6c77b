#!/usr/bin/env bash
# Builds the VM's initramfs: a static busybox and the modules that mount the host's root over 9p.
# Its /init mounts the host's / read-only, the run directory read-write at the same path, a tmpfs
# on /run, and hands over to tests/vm/guest-init.sh on that root.
# Usage: mkinitramfs.sh KERNEL_ROOT KERNEL_VERSION OUT.cpio.gz
set -euo pipefail
root=$1 version=$2 out=$3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work"/{bin,dev,proc,sys,newroot,mods}
busybox=$(command -v busybox) || { echo "vm: busybox is missing (just deps --vm)" >&2; exit 1; }
cp "$busybox" "$work/bin/busybox"
for module in virtio_pci 9pnet_virtio 9p; do
  modprobe -d "$root" -S "$version" --show-depends "$module" | awk '$1 == "insmod" {print $2}'
done | awk '!seen[$0]++' | while read -r file; do
  name=$(basename "$file")
  name=${name%.xz}
  name=${name%.zst}
  case "$file" in /lib/modules/*) file="$root$file" ;; esac
  case "$file" in
    *.xz) xz -dc "$file" >"$work/mods/$name" ;;
    *.zst) zstd -dc "$file" >"$work/mods/$name" ;;
    *) cp "$file" "$work/mods/$name" ;;
  esac
  echo "$name" >>"$work/mods/order"
done
cat >"$work/init" <<'INIT'
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
for m in $(cat /mods/order); do insmod /mods/$m 2>/dev/null; done
arg() { sed -n "s/.*$1=\([^ ]*\).*/\1/p" /proc/cmdline; }
out=$(arg tandem.out)
init=$(arg tandem.init)
opts=trans=virtio,version=9p2000.L,msize=512000
mount -t 9p -o $opts,ro,cache=loose hostroot /newroot || { echo "vm: 9p root mount failed"; exec sh; }
mount -t tmpfs -o mode=0755 run /newroot/run
# The kernel's modules: the host has no /lib/modules of this kernel, so they live under /run.
mkdir -p /newroot/run/kernel/lib/modules
mount -t 9p -o $opts,ro hostmods /newroot/run/kernel/lib/modules || echo "vm: modules mount failed"
mount -t 9p -o $opts,rw hostout "/newroot$out" || echo "vm: out mount failed"
mount --move /dev /newroot/dev
mount --move /proc /newroot/proc
mount --move /sys /newroot/sys
exec switch_root /newroot "$init"
INIT
chmod +x "$work/init"
(cd "$work" && find . | cpio -o -H newc 2>/dev/null | gzip -1) >"$out"
