#!/bin/bash
# A session's screen-sharing stack, as a desktop starts it: PipeWire, WirePlumber,
# xdg-desktop-portal-wlr (told the output to share, no chooser) and xdg-desktop-portal, then
# portal_screencast.py records FRAMES frames of OUTPUT through the ScreenCast portal into
# PREFIX-NN.png. Run under dbus-run-session; logs go to PREFIX-*.log.
#
#   portal_screencast.sh PREFIX FRAMES OUTPUT
set -u
prefix=$1 frames=$2 output=$3
here=$(dirname "${BASH_SOURCE[0]}")
for need in pipewire:pipewire wireplumber:wireplumber /usr/libexec/xdg-desktop-portal:xdg-desktop-portal \
  /usr/libexec/xdg-desktop-portal-wlr:xdg-desktop-portal-wlr gdbus:libglib2.0-bin \
  gst-launch-1.0:gstreamer1.0-tools; do
  command -v "${need%%:*}" >/dev/null || {
    echo "${need%%:*} is not installed: run \`just deps\` (Debian package ${need#*:})" >&2
    exit 2
  }
done
export XDG_CURRENT_DESKTOP=wlroots
config=$(mktemp)
printf '[screencast]\noutput_name=%s\nchooser_type=none\nmax_fps=30\n' "$output" >"$config"
pipewire >"$prefix-pipewire.log" 2>&1 &
for _ in $(seq 100); do [ -S "$XDG_RUNTIME_DIR/pipewire-0" ] && break; sleep 0.2; done
# WirePlumber's Bluetooth monitor needs logind, which a bare system has not: without it,
# WirePlumber gives up and no stream is linked. Its configuration, with Bluetooth off.
export WIREPLUMBER_CONFIG_DIR
WIREPLUMBER_CONFIG_DIR=$(mktemp -d)
cp -r /usr/share/wireplumber/. "$WIREPLUMBER_CONFIG_DIR"
echo 'bluez_monitor.enabled = false' >"$WIREPLUMBER_CONFIG_DIR/bluetooth.lua.d/51-no-bluetooth.lua"
wireplumber >"$prefix-wireplumber.log" 2>&1 &
/usr/libexec/xdg-desktop-portal-wlr -l DEBUG -c "$config" >"$prefix-xdpw.log" 2>&1 &
gdbus wait --session --timeout 60 org.freedesktop.impl.portal.desktop.wlr
/usr/libexec/xdg-desktop-portal >"$prefix-portal.log" 2>&1 &
gdbus wait --session --timeout 60 org.freedesktop.portal.Desktop
GST_DEBUG=${GST_DEBUG:-2} /usr/bin/python3 "$here/portal_screencast.py" "$prefix-%02d.png" "$frames"
status=$?
kill $(jobs -p) 2>/dev/null
wait
exit $status
