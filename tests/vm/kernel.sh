#!/usr/bin/env bash
# Prints the directory of Debian's 6.12 kernel for the VM test bed, fetching it first if needed:
# the package is downloaded (not installed) and unpacked into a cache, and depmod indexes its
# modules there. Cached between runs in $TANDEM_VM_CACHE (default ~/.cache/tandem-vm).
set -euo pipefail
cache=${TANDEM_VM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/tandem-vm}
mkdir -p "$cache"

# The versioned package that the metapackage points at, e.g. linux-image-6.12.117+deb12-amd64.
versioned() { apt-cache depends linux-image-6.12-amd64 2>/dev/null | awk '/Depends: linux-image-6/ {print $2; exit}'; }
package=$(versioned)
if [ -z "$package" ] && ! find "$cache" -maxdepth 2 -name .ready 2>/dev/null | grep -q .; then
  # apt's lists may be missing or old on a machine where every package is already installed.
  echo "vm: apt knows no linux-image-6.12-amd64: updating its lists once" >&2
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get update -q >&2 || true
  package=$(versioned)
fi
if [ -z "$package" ]; then
  # Fall back to any kernel already unpacked.
  found=$(find "$cache" -maxdepth 2 -name .ready -printf '%h\n' 2>/dev/null | sort | tail -n 1)
  if [ -n "$found" ]; then echo "$found"; exit 0; fi
  echo "vm: apt knows no linux-image-6.12-amd64 package (run 'apt-get update'; on Debian 12 it comes" >&2
  echo "    from the security suite)" >&2
  exit 1
fi
root="$cache/$package"
if [ -f "$root/.ready" ]; then
  echo "$root"
  exit 0
fi
echo "vm: fetching $package (downloaded and unpacked, not installed)" >&2
work=$(mktemp -d "$cache/fetch.XXXXXX")
trap 'rm -rf "$work"' EXIT
(cd "$work" && apt-get download -q -o APT::Sandbox::User=root "$package" >&2)
rm -rf "$root"
mkdir -p "$root"
dpkg-deb -x "$work"/*.deb "$root"
version=${package#linux-image-}
depmod -b "$root" "$version"
touch "$root/.ready"
echo "$root"
