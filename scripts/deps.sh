#!/usr/bin/env bash
# Installs the system packages Tandem needs on Debian/Ubuntu: `deps.sh` for building, testing
# and the demo; `deps.sh --vm` adds what the VM test bed needs (QEMU, a static busybox, seatd).
#
# Quick and silent when everything is there (no apt-get update). Otherwise it says what it will
# change, then changes it. On Debian 12 Mesa comes from bookworm-backports (llvmpipe imports
# memfd dmabufs only from Mesa 24 on); the backports entry is derived from the machine's own
# Debian source entry, and every installed package built from Mesa moves with the rest, so the
# set stays consistent.
set -euo pipefail

vm=0
for arg in "$@"; do
  case "$arg" in
    --vm) vm=1 ;;
    -h | --help)
      sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'
      exit 0
      ;;
    *)
      echo "deps: unknown argument $arg (try --help)" >&2
      exit 2
      ;;
  esac
done

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive

if ! command -v apt-get >/dev/null 2>&1; then
  echo "deps: apt-get not found; install by hand: Mesa >= 24 (EGL, GBM, llvmpipe), wayland, xkbcommon," >&2
  echo "      libinput, libseat, libudev, libdrm, weston, foot, wayland-utils, xvfb" >&2
  exit 1
fi

build_pkgs=(pkg-config libwayland-dev libxkbcommon-dev libudev-dev libinput-dev libseat-dev
  libegl-dev libgles-dev libfontconfig-dev libfreetype-dev)
# libdrm-dev must match the libdrm that the newer Mesa pulls in.
mesa_pkgs=(libegl-mesa0 libgl1-mesa-dri libgbm1 libglx-mesa0 libgbm-dev libdrm-dev)
client_pkgs=(weston foot wayland-utils xvfb x11-apps imagemagick xwayland xterm mesa-utils wlcs gdb grim wf-recorder
  swaylock swayidle wlr-randr kanshi desktop-file-utils gtk-3-examples mpv wl-clipboard wtype xclip waybar
  xdotool wmctrl x11-utils)
# The VM test bed: QEMU (from backports where the machine's qemu-utils already is), the guest's
# init (busybox, cpio, kmod, udev), a seat daemon, DRM tools and the virgl GPU's display.
vm_pkgs=(busybox-static cpio kmod udev seatd xvfb x11-apps x11-utils imagemagick)
# Screen sharing through the ScreenCast portal (the VM's seatd scenario): PipeWire and its session
# manager, the portal and its wlroots backend, a session bus, GStreamer to record the stream.
vm_pkgs+=(pipewire pipewire-bin wireplumber xdg-desktop-portal xdg-desktop-portal-wlr dbus-daemon
  libglib2.0-bin python3-gi gstreamer1.0-tools gstreamer1.0-pipewire gstreamer1.0-plugins-base
  gstreamer1.0-plugins-good)
vm_backports_pkgs=(qemu-system-x86 qemu-system-gui libdrm-tests)

codename=""
distro=""
if [ -r /etc/os-release ]; then
  # shellcheck disable=SC1091
  . /etc/os-release
  codename="${VERSION_CODENAME:-}"
  distro="${ID:-}"
fi
backports_suite=""
if [ "$distro" = "debian" ] && [ "$codename" = "bookworm" ]; then
  backports_suite="bookworm-backports"
  mesa_pkgs+=(mesa-libgallium)
fi

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q '^install ok installed$'; }
version_of() { dpkg-query -W -f='${Version}' "$1" 2>/dev/null || true; }

# Packages built from Mesa that are installed, with their versions.
mesa_installed() { dpkg-query -W -f='${Package} ${source:Package} ${Version} ${Status}\n' 2>/dev/null |
  awk '$2 == "mesa" && $NF == "installed" {print $1, $3}'; }

wanted=("${build_pkgs[@]}" "${mesa_pkgs[@]}" "${client_pkgs[@]}")
if [ "$vm" = 1 ]; then wanted+=("${vm_pkgs[@]}" "${vm_backports_pkgs[@]}"); fi
missing=()
for pkg in "${wanted[@]}"; do installed "$pkg" || missing+=("$pkg"); done

mesa_version=$(version_of libegl-mesa0)
mesa_ok=0
if [ -n "$mesa_version" ] && dpkg --compare-versions "$mesa_version" ge 24; then mesa_ok=1; fi
# Mesa packages left behind at another version than libegl-mesa0's (only those that the newer
# release still ships are upgraded; transitional ones of the old release stay as they are).
stale_mesa=()
if [ "$mesa_ok" = 1 ]; then
  while read -r pkg version; do
    [ "$version" = "$mesa_version" ] && continue
    case "$pkg" in libgl1-mesa-glx | libglapi-mesa) continue ;; esac
    stale_mesa+=("$pkg")
  done < <(mesa_installed)
fi

if [ ${#missing[@]} -eq 0 ] && [ "$mesa_ok" = 1 ] && [ ${#stale_mesa[@]} -eq 0 ]; then
  echo "deps: everything is installed (Mesa $mesa_version)"
  exit 0
fi

# Say what will change before changing it.
add_backports=0
if [ -n "$backports_suite" ] && ! grep -rqs "$backports_suite" /etc/apt/sources.list /etc/apt/sources.list.d/; then
  add_backports=1
fi
echo "deps: this will change the system:"
[ "$add_backports" = 1 ] && echo "  - add the $backports_suite suite to apt's sources (same archive as the machine's bookworm entry)"
[ ${#missing[@]} -gt 0 ] && echo "  - install: ${missing[*]}"
if [ "$mesa_ok" = 0 ] && [ -n "$mesa_version" ]; then
  echo "  - upgrade Mesa $mesa_version to the ${backports_suite:-distribution}'s release, with every installed Mesa package"
fi
[ ${#stale_mesa[@]} -gt 0 ] && echo "  - upgrade Mesa packages left at another version: ${stale_mesa[*]}"

if [ "$add_backports" = 1 ]; then
  list=/etc/apt/sources.list.d/tandem-backports.sources
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
  printf 'Types: deb\nURIs: %s\nSuites: %s\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
    "$uri" "$backports_suite" | $SUDO tee "$list" >/dev/null
  echo "deps: added $backports_suite from $uri"
fi

# The package manager's progress goes to a log; one line says what happened, and a failure shows
# the log's end.
apt_log="${TMPDIR:-/tmp}/tandem-deps.log"
: >"$apt_log"
apt() {
  if ! $SUDO apt-get "$@" >>"$apt_log" 2>&1; then
    echo "deps: apt-get $* failed; the end of $apt_log:" >&2
    tail -n 20 "$apt_log" >&2
    exit 1
  fi
}
echo "deps: installing (apt-get's progress goes to $apt_log)"

apt update -q

# Mesa as one set: ours, plus every installed package built from Mesa that the suite ships.
mesa_set=("${mesa_pkgs[@]}")
while read -r pkg _; do
  case " ${mesa_set[*]} " in *" $pkg "*) continue ;; esac
  if [ -n "$backports_suite" ]; then
    apt-cache madison "$pkg" 2>/dev/null | grep -q " $backports_suite/" || continue
  fi
  mesa_set+=("$pkg")
done < <(mesa_installed)
if [ -n "$backports_suite" ]; then
  apt install -y -q -t "$backports_suite" "${mesa_set[@]}"
else
  apt install -y -q "${mesa_set[@]}"
fi
apt install -y -q "${build_pkgs[@]}" "${client_pkgs[@]}"
if [ "$vm" = 1 ]; then
  apt install -y -q "${vm_pkgs[@]}"
  if [ -n "$backports_suite" ]; then
    apt install -y -q -t "$backports_suite" "${vm_backports_pkgs[@]}"
  else
    apt install -y -q "${vm_backports_pkgs[@]}"
  fi
fi

echo "deps: Mesa $(version_of libegl-mesa0)"
