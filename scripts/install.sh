#!/usr/bin/env bash
# just install [DIR] [--session [--prefix PREFIX]]: puts tandem-compositor and tandem-test-client
# into DIR (default $CARGO_HOME/bin); --session installs the compositor into PREFIX/bin (default
# /usr/local) with tandem-session and a wayland-sessions entry, so display managers (GDM, SDDM,
# greetd's tuigreet, ly) offer a Tandem session.
set -euo pipefail
bin_dir=$1
shift
dir=""
session=0
prefix=/usr/local
while [ $# -gt 0 ]; do
  case $1 in
    --session) session=1; shift ;;
    --prefix) prefix=${2:?--prefix needs a directory}; shift 2 ;;
    -*) echo "install: unknown option $1 (DIR, --session, --prefix PREFIX)" >&2; exit 2 ;;
    *) dir=$1; shift ;;
  esac
done
here=$(cd "$(dirname "$0")/.." && pwd)

if [ "$session" = 1 ]; then
  [ -n "$dir" ] && { echo "install: --session installs into PREFIX/bin; give --prefix, not DIR" >&2; exit 2; }
  mkdir -p "$prefix/bin" "$prefix/share/wayland-sessions"
  install -m 755 "$bin_dir/tandem-compositor" "$prefix/bin/tandem-compositor"
  install -m 755 "$here/compositor/session/tandem-session" "$prefix/bin/tandem-session"
  sed "s|@BINDIR@|$prefix/bin|g" "$here/compositor/session/tandem.desktop" \
    >"$prefix/share/wayland-sessions/tandem.desktop"
  chmod 644 "$prefix/share/wayland-sessions/tandem.desktop"
  echo "installed $prefix/bin/tandem-compositor"
  echo "installed $prefix/bin/tandem-session"
  echo "installed $prefix/share/wayland-sessions/tandem.desktop"
  case $prefix in
    /usr|/usr/local) ;;
    *) echo "note: display managers read /usr/share/wayland-sessions and /usr/local/share/wayland-sessions; $prefix is neither" ;;
  esac
  exit 0
fi

dir="${dir:-${CARGO_HOME:-$HOME/.cargo}/bin}"
mkdir -p "$dir"
for bin in tandem-compositor tandem-test-client; do
  install -m 755 "$bin_dir/$bin" "$dir/$bin"
  echo "installed $dir/$bin"
done
case ":$PATH:" in *":$dir:"*) ;; *) echo "note: $dir is not on PATH" ;; esac
