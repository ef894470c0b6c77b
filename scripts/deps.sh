#!/usr/bin/env bash
# Installs the system packages Tandem needs on Debian/Ubuntu.
# On Debian 12 the Mesa from bookworm-backports is installed (llvmpipe needs Mesa 24+ to import
# memfd dmabufs). The backports entry is derived from the machine's own Debian source entry.
set -euo pipefail

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive

if ! command -v apt-get >/dev/null 2>&1; then
  echo "deps: apt-get not found; install by hand: Mesa >= 24 (EGL, GBM, llvmpipe), wayland, xkbcommon," >&2
  echo "      libinput, libseat, libudev, libdrm, weston, foot, wayland-utils, xvfb" >&2
  exit 1
fi

codename=""
if [ -r /etc/os-release ]; then
  # shellcheck disable=SC1091
  . /etc/os-release
  codename="${VERSION_CODENAME:-}"
  distro="${ID:-}"
fi

backports_suite=""
if [ "${distro:-}" = "debian" ] && [ "$codename" = "bookworm" ]; then
  backports_suite="bookworm-backports"
  list=/etc/apt/sources.list.d/tandem-backports.sources
  if ! grep -rqs "bookworm-backports" /etc/apt/sources.list /etc/apt/sources.list.d/; then
    # Take the archive URI the machine already uses for its main suite.
    uri=""
    for f in /etc/apt/sources.list.d/*.sources; do
      [ -f "$f" ] || continue
      uri=$(awk '/^URIs:/ {u=$2} /^Suites:/ && / bookworm( |$)/ && u!="" {print u; exit}' "$f")
      [ -n "$uri" ] && break
    done
    if [ -z "$uri" ] && [ -f /etc/apt/sources.list ]; then
      uri=$(awk '$1=="deb" && $3=="bookworm" {print $2; exit}' /etc/apt/sources.list)
    fi
    if [ -z "$uri" ]; then
      echo "deps: could not find the machine's Debian source entry for bookworm;" >&2
      echo "      add bookworm-backports by hand and run again" >&2
      exit 1
    fi
    printf 'Types: deb\nURIs: %s\nSuites: bookworm-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
      "$uri" | $SUDO tee "$list" >/dev/null
    echo "deps: added bookworm-backports from $uri"
  fi
fi

$SUDO apt-get update -q

build_pkgs=(pkg-config libwayland-dev libxkbcommon-dev libudev-dev libinput-dev libseat-dev
  libegl-dev libgles-dev libfontconfig-dev libfreetype-dev)
# libdrm-dev must match the libdrm that the newer Mesa pulls in.
mesa_pkgs=(libegl-mesa0 libgl1-mesa-dri libgbm1 libglx-mesa0 libgbm-dev libdrm-dev)
client_pkgs=(weston foot wayland-utils xvfb x11-apps imagemagick)

if [ -n "$backports_suite" ]; then
  # mesa-libgallium only exists from Mesa 24.2 on; it is pulled with the others from backports.
  $SUDO apt-get install -y -q -t "$backports_suite" "${mesa_pkgs[@]}" mesa-libgallium
else
  $SUDO apt-get install -y -q "${mesa_pkgs[@]}"
fi
$SUDO apt-get install -y -q "${build_pkgs[@]}" "${client_pkgs[@]}"

echo "deps: Mesa $(dpkg-query -W -f='${Version}' libegl-mesa0 2>/dev/null || echo unknown)"
