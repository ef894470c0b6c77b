# The VM scenarios: each is a guest script (run as root in the VM, working directory $OUT) and
# a host function (run beside the VM: input through QEMU's monitor, screenshots, pixel checks).
# test.sh boots one VM per scenario; every check is logged as PASS or FAIL.

# 1-3. A TTY session on the virgl GPU with libseat's builtin seat: clients shown where they are,
# their memory counted and released, redraws driven by events, input from real devices.
session_guest() {
  cat <<'GUEST'
source "$VM_DIR/guest.sh"
export LIBSEAT_BACKEND=builtin
started=$(date +%s.%N)
tandem-compositor --backend tty >compositor.log 2>&1 &
compositor=$!
check "the compositor answers over IPC" compositor_up
until [ "$(frames)" -ge 1 ]; do sleep 0.1; done
echo "compositor start to first frame queued: $(awk "BEGIN {print $(date +%s.%N) - $started}") s (measured in the guest; TCG)" >timings.txt
weston-simple-shm >/dev/null 2>&1 &
shm=$!
windows_at_least 1
foot >/dev/null 2>&1 &
check "weston-simple-shm and foot are mapped" windows_at_least 2
sleep 2
tandem-compositor msg windows --json >windows.json
tandem-compositor msg vram --json >vram-shown.json
tell shown
await input-done 300
tandem-compositor msg vram --json >vram-input.json
# Super+Return started a terminal.
check "Super+Return starts the terminal" windows_at_least 3
# A window holding a keyboard shortcuts inhibitor gets Super+M (bound to maximize) itself; a
# window without one is maximized by it.
tandem-test-client --inhibit-shortcuts --app-id inhibitor --size 160x120 --follow-size >inhibitor.txt 2>&1 &
inhibitor=$!
check "a window asking to take the key bindings is mapped" windows_at_least 4
i=0; until grep -q 'shortcuts inhibitor active' inhibitor.txt; do i=$((i + 1)); [ $i -gt 100 ] && break; sleep 0.1; done
check "its shortcuts inhibitor is made active" grep -q 'shortcuts inhibitor active' inhibitor.txt
tell inhibitor-shown
await inhibitor-keys 120
tandem-compositor msg windows --json >windows-inhibited.json
check "Super+M reaches the window holding the inhibitor (evdev key 50)" grep -q '^key 50 pressed' inhibitor.txt
check "and does not maximize it" python3 -c '
import json
w = next(w for w in json.load(open("windows-inhibited.json"))["windows"] if w["app_id"] == "inhibitor")
raise SystemExit(0 if (w["width"], w["height"]) == (160, 120) else 1)'
kill $inhibitor
tandem-test-client --app-id plain --size 160x120 --follow-size >/dev/null 2>&1 &
plain=$!
check "a window without an inhibitor is mapped" bash -c 'for i in $(seq 100); do tandem-compositor msg windows --json | grep -q "\"plain\"" && exit 0; sleep 0.1; done; exit 1'
sleep 1
tell plain-shown
await plain-keys 120
tandem-compositor msg windows --json >windows-plain.json
check "Super+M maximizes a window without an inhibitor" python3 -c '
import json
w = next(w for w in json.load(open("windows-plain.json"))["windows"] if w["app_id"] == "plain")
raise SystemExit(0 if w["width"] > 160 and w["height"] > 120 else 1)'
kill $plain
# Idle: no client draws, nothing moves: no frames.
kill $shm
sleep 3
before=$(frames)
sleep 5
after=$(frames)
echo "$((after - before))" >idle-frames.txt
check "an idle session renders no frames over 5 s ($((after - before)) rendered)" [ "$((after - before))" -le 1 ]
# A commit after empty frames is shown.
tandem-test-client --colour ffe03020 --size 160x120 >/dev/null 2>&1 &
test_client=$!
check "a new client after an idle period is mapped" windows_at_least 3
sleep 1
tandem-compositor msg outputs --json >outputs-after-idle.json
tandem-compositor msg windows --json >windows-after-idle.json
tell after-idle
await after-idle-shot
# Explicit sync (the virgl GPU has timeline syncobjs): the global is offered; a client whose
# first acquire point is signalled 3 s after its commit is not shown before, and is after; its
# two GBM buffers take turns, each written again only once its release point was signalled;
# releases wait for the frames that sampled the buffer; misuse gets the protocol's errors.
tandem-compositor msg gpus >gpus-sync.txt
check "explicit sync is offered through the virgl GPU" grep -q "wp_linux_drm_syncobj_manager_v1 offered" gpus-sync.txt
tandem-test-client --explicit-sync --late-acquire 3 --frames 300 --app-id synced --size 200x140 \
  --colour ff2060e0 --sync-log sync.log >synced.txt 2>&1 &
synced=$!
sleep 1.5
tandem-compositor msg windows --json >windows-acquire-pending.json
check "explicit sync: the commit waits for its acquire point (not shown 1.5 s in)" python3 -c '
import json, sys
windows = json.load(open("windows-acquire-pending.json"))["windows"]
sys.exit(any(w["app_id"] == "synced" and w["width"] > 0 for w in windows))'
# While its frames go on, the host takes screenshots: each must show one frame's colour.
for _ in $(seq 1 100); do
  tandem-compositor msg windows --json >windows-synced.json
  python3 -c '
import json, sys
windows = json.load(open("windows-synced.json"))["windows"]
sys.exit(not any(w["app_id"] == "synced" and w["width"] > 0 for w in windows))' && break
  sleep 0.1
done
tell synced-running
await synced-shots 120
wait $synced
cat synced.txt
check "explicit sync: 301 frames shown, each buffer written again only after its release point" \
  grep -q "301 frames shown" synced.txt
check "explicit sync: the first frame shows only after its acquire point" python3 -c '
import sys
log = [line.split() for line in open("sync.log")]
signalled = next(int(t) for kind, frame, t in log if kind == "acquire-signalled" and frame == "0")
shown = next(int(t) for kind, frame, t in log if kind == "shown" and frame == "0")
released = sum(1 for kind, _, _ in log if kind == "released")
print(f"acquire signalled at {signalled}, shown at {shown}, {released} releases observed")
sys.exit(not (shown >= signalled and released == 299))'
tandem-compositor msg gpus >gpus-after-sync.txt
grep "buffer releases" gpus-after-sync.txt || true
sampled=$(grep -Eo "buffer releases: [0-9]+" gpus-after-sync.txt | grep -Eo "[0-9]+$" || echo 0)
check "releases know the virgl GPU's frames that sampled each buffer in place ($sampled buffers)" \
  [ "$sampled" -ge 30 ]
for case in $(tandem-test-client --list-hostile-explicit-sync | cut -f1); do
  answer=$(tandem-test-client --hostile "$case" 2>&1 || true)
  echo "$answer" >>hostile-sync.txt
  check "explicit sync misuse: $answer" grep -q "as expected" <<<"$answer"
done
check "the compositor survived every explicit sync misuse" compositor_up
pkill -x foot
kill $test_client
i=0
until [ "$(tandem-compositor msg windows --json | grep -c '"app_id"')" -eq 0 ] || [ $i -gt 100 ]; do
  sleep 0.2
  i=$((i + 1))
done
sleep 1
tandem-compositor msg vram --json >vram-after.json
check "0 bytes held for clients once they are gone" grep -q '"client_bytes": 0' vram-after.json
tell clients-gone
# Ctrl+Alt+Backspace quits.
wait $compositor
status=$?
check "Ctrl+Alt+Backspace ends the session with status 0 (got $status)" [ "$status" = 0 ]
check "the key binding was what ended it" grep -q "quit requested by key binding" compositor.log
check "no DRM master or restore errors at teardown" \
  bash -c '! sed -n "/quit requested/,\$p" compositor.log | grep -E "ERROR|Failed to restore|Unable to clear|drop drm master"'
[ ! -s failures ]
GUEST
}

session_host() {
  source "$VM_DIR/host.sh"
  await shown 300 || return 1
  shot shown
  # Each window's area shows the window, not the background.
  for index in 0 1; do
    read -r x y w h app < <(json windows.json "' '.join(str(v) for v in (lambda w: (w['x'], w['y'], w['width'], w['height'], w['app_id']))(j['windows'][$index]))")
    shown=$(pixels foreground "$OUT/shots/shown.png" "$x" "$y" "$w" "$h")
    check "$app is shown at $x,$y (${w}x$h): $shown of $((w * h)) pixels drawn" [ "$shown" -gt $((w * h / 2)) ]
  done
  bytes=$(json vram-shown.json "j['total_bytes']")
  check "msg vram counts the windows' bytes ($bytes)" [ "$bytes" -gt 0 ]
  # The output's scanout buffers are the compositor's own, by the size the kernel gave them.
  swapchain=$(json vram-shown.json "' '.join(f\"{c['objects']}x{c['bytes'] // max(c['objects'], 1)}\" for c in j['compositor'] if c['purpose'].startswith('swapchain'))")
  check "msg vram lists the output's swapchain as the compositor's own ($swapchain bytes)" \
    python3 -c "import sys; n, b = sys.argv[1].split('x'); sys.exit(0 if int(n) >= 1 and int(b) >= 1024 * 768 * 4 else 1)" "$swapchain"
  # The pointer: absolute (virtio tablet), then relative (virtio mouse); the cursor is drawn.
  input abs:0.8,0.85 sleep:1
  shot pointer-abs
  input move:-150,-50 sleep:1
  shot pointer-rel
  at_abs=$(pixels foreground "$OUT/shots/pointer-abs.png" 819 652 12 18)
  # Relative motion goes through libinput's acceleration: up and to the left, by about as much.
  at_rel=$(pixels foreground "$OUT/shots/pointer-rel.png" 600 560 215 90)
  left=$(pixels foreground "$OUT/shots/pointer-rel.png" 819 652 12 18)
  check "the cursor follows the tablet ($at_abs pixels at 819,652)" [ "$at_abs" -gt 20 ]
  check "the cursor follows the mouse ($at_rel pixels up and left of it; $left left behind)" \
    [ "$at_rel" -gt 20 -a "$left" -lt 5 ]
  # A click on the lower window's uncovered corner raises it over the terminal.
  input abs:0.0234,0.03 sleep:0.3 click sleep:1
  shot raised
  covered=$(pixels diff "$OUT/shots/shown.png" "$OUT/shots/raised.png" 100 100 150 150)
  check "a click raises the window under the pointer ($covered pixels changed)" [ "$covered" -gt 10000 ]
  # A click into the terminal focuses it; typed text shows.
  input abs:0.6,0.15 sleep:0.3 click sleep:1
  shot before-typing
  input type:echo\ tandem key:ret sleep:2
  shot typed
  typed=$(pixels diff "$OUT/shots/before-typing.png" "$OUT/shots/typed.png" 48 48 600 120)
  check "keys reach the focused terminal ($typed pixels changed)" [ "$typed" -gt 100 ]
  input key:meta_l-ret
  tell input-done
  await inhibitor-shown 120 || return 1
  input key:meta_l-m sleep:1
  tell inhibitor-keys
  await plain-shown 120 || return 1
  input key:meta_l-m sleep:1
  tell plain-keys
  await after-idle 120 || return 1
  # The pointer image is the compositor's own: a buffer on the cursor plane, or (composited into
  # the frame, as virtio-gpu's output here does) the texture it was uploaded to.
  read -r plane texture < <(json vram-input.json "' '.join(str(sum(c['bytes'] for c in j['compositor'] if c['purpose'].startswith(p))) for p in ('cursor', 'memory texture'))")
  check "msg vram counts the pointer image (cursor plane: $plane bytes, memory texture: $texture bytes)" \
    [ "$plane" -ge $((64 * 64 * 4)) -o "$texture" -ge $((24 * 24 * 4)) ]
  shot after-idle
  read -r x y w h < <(json windows-after-idle.json "' '.join(str(v) for v in next((w['x'], w['y'], w['width'], w['height']) for w in j['windows'] if w['app_id'] == 'tandem-test-client'))")
  red=$(pixels colour "$OUT/shots/after-idle.png" "$x" "$y" "$w" "$h" e03020)
  check "a client committing after idle frames is shown ($red of $((w * h)) pixels)" [ "$red" -gt $((w * h * 8 / 10)) ]
  latency=$(json outputs-after-idle.json "j['outputs'][0]['last_latency_ms']")
  echo "commit to queued frame after idle: $latency ms" >>"$OUT/timings.txt"
  tell after-idle-shot
  # Explicit sync: a window whose frames alternate two colours, each buffer rewritten only once
  # released, never shows both at once.
  await synced-running 120 || return 1
  for i in 1 2 3; do shot "synced-$i"; done
  read -r x y w h < <(json windows-synced.json "' '.join(str(v) for v in next((w['x'], w['y'], w['width'], w['height']) for w in j['windows'] if w['app_id'] == 'synced'))")
  for i in 1 2 3; do
    a=$(pixels colour "$OUT/shots/synced-$i.png" "$x" "$y" "$w" "$h" 2060e0)
    b=$(pixels colour "$OUT/shots/synced-$i.png" "$x" "$y" "$w" "$h" df9f1f)
    check "explicit sync: shot $i shows the window in one frame's colour ($a and $b of $((w * h)) pixels)" \
      [ $((a + b)) -ge $((w * h * 9 / 10)) -a \( "$a" -lt $((w * h / 100)) -o "$b" -lt $((w * h / 100)) \) ]
  done
  tell synced-shots
  await clients-gone 120 || return 1
  input key:ctrl-alt-backspace
  [ ! -s "$OUT/failures" ]
}

# 1 and 4. A session under the seatd daemon, started as `tandem-compositor --backend tty -- foot`,
# captured by grim (wlr-screencopy) and by `msg screenshot` while shown, and a VT switch away and
# back: the session
# pauses and resumes, the windows are shown again, and a client that committed while the
# session was paused is shown with that content.
seatd_guest() {
  cat <<'GUEST'
source "$VM_DIR/guest.sh"
seatd -g root >seatd.log 2>&1 &
export LIBSEAT_BACKEND=seatd
sleep 1
# Pointer settings from the configuration file reach the virtio mouse through libinput.
printf '[mouse]\nnatural_scroll = true\naccel_speed = 0.5\n' >tandem.toml
tandem-compositor --backend tty --park-after 2 --config "$PWD/tandem.toml" -- foot >compositor.log 2>&1 &
compositor=$!
check "the compositor answers over IPC under seatd" compositor_up
check "the terminal it started is mapped and drawn" window_drawn foot
tandem-test-client --colour ff20a0e0 --size 300x200 >/dev/null 2>&1 &
first=$!
check "a client is mapped over it" windows_at_least 2
sleep 1
check "grim captures the TTY's output (wlr-screencopy)" timeout 20 grim grim-tty.png
check "msg screenshot writes the TTY's output" tandem-compositor msg screenshot msg-tty.png
tell shown
await shown-checked
busybox chvt 2
sleep 3
check "switching VT pauses the session" grep -q "session paused" compositor.log
# Committed while paused: a new window and its first frame.
tandem-test-client --colour ffe0c020 --size 200x150 >/dev/null 2>&1 &
second=$!
check "a client connecting while paused is mapped" windows_at_least 3
tandem-compositor msg windows --json >windows.json
tell away
await away-checked
busybox chvt 1
sleep 3
check "switching back resumes the session" grep -q "session resumed" compositor.log
tell back
await back-checked
# libinput's devices come once udev has them (a minute after the start under a loaded TCG).
mouse_configured() { grep "input device configured" compositor.log | grep "Virtio Mouse" | grep -q "natural scroll true, acceleration 0.5"; }
check "the configuration's [mouse] settings are applied to the virtio mouse" wait_for 120 mouse_configured
# The monitor is named by its EDID (QEMU's), not "Unknown".
tandem-compositor msg outputs --json >outputs-edid.json
check "the monitor's make, model and serial come from its EDID ($(python3 -c 'import json; o = json.load(open("outputs-edid.json"))["outputs"][0]; print(o["make"], "/", o["model"], "/", o["serial"])'))" \
  python3 -c 'import json, sys; o = json.load(open("outputs-edid.json"))["outputs"][0]; sys.exit(0 if o["make"] not in ("", "Unknown") and o["model"] not in ("", "Unknown") else 1)'
# Touch on the TTY: a tap on the touchscreen (QEMU's virtio multitouch, through libinput) on a
# part of the first window no other window covers gives it the keyboard focus.
tandem-compositor msg windows --json >windows-touch.json
python3 - "$first" >tap.txt <<'PY'
import json, sys
windows = json.load(open("windows-touch.json"))["windows"]
# In stacking order, bottom first: only the windows after it can cover it.
index = next(i for i, w in enumerate(windows) if w["pid"] == int(sys.argv[1]))
target, others = windows[index], windows[index + 1:]
def inside(w, x, y):
    return w["x"] <= x < w["x"] + w["width"] and w["y"] <= y < w["y"] + w["height"]
x, y = next((x, y) for y in range(target["y"] + target["height"] - 5, target["y"], -5)
            for x in range(target["x"] + target["width"] - 5, target["x"], -5)
            if not any(inside(w, x, y) for w in others))
print(f"{x / 1024:.4f},{y / 768:.4f}")
PY
check "the first window does not have the focus before the tap" python3 -c 'import json, sys; sys.exit(0 if not next(w for w in json.load(open("windows-touch.json"))["windows"] if w["pid"] == int(sys.argv[1]))["focused"] else 1)' "$first"
tell tap
await tapped
focused_by_touch() { tandem-compositor msg windows --json | python3 -c 'import json, sys; sys.exit(0 if next(w for w in json.load(sys.stdin)["windows"] if w["pid"] == int(sys.argv[1]))["focused"] else 1)' "$first"; }
check "a tap at $(cat tap.txt) of the touchscreen focuses the window under it" wait_for 10 focused_by_touch
# A screencast of the TTY's output while a window animates (wf-recorder ends at the first frame
# after its Ctrl-C).
weston-simple-shm >/dev/null 2>&1 &
animated=$!
sleep 1
# wf-recorder makes its shm buffers under /tmp, which is the host's read-only root here: it gets
# a tmpfs of its own, and writes the cast through a bind mount of this directory.
# Loading its codecs takes seconds under TCG: Ctrl-C comes 3 s after it says what it records.
unshare -m sh -c 'mount --bind "$PWD" /mnt && mount -t tmpfs tmpfs /tmp && cd /mnt &&
  { wf-recorder -f cast-tty.mp4 >wf-recorder.log 2>&1 & recorder=$!
    for _ in $(seq 120); do grep -q "selected region" wf-recorder.log && break; sleep 0.5; done
    sleep 3; kill -INT $recorder
    for _ in $(seq 40); do kill -0 $recorder 2>/dev/null || break; sleep 0.5; done
    kill -KILL $recorder 2>/dev/null; wait $recorder; }'
status=$?
kill $animated
cast_bytes=$(stat -c %s cast-tty.mp4 2>/dev/null || echo 0)
check "wf-recorder records the TTY's output (status $status, $cast_bytes bytes)" [ "$status" = 0 -a "$cast_bytes" -gt 10000 ]
# Screen sharing as browsers do it: the ScreenCast portal (xdg-desktop-portal-wlr) hands over a
# PipeWire stream of the output, recorded with GStreamer while a window animates (a still screen
# sends no new frames); the host compares the last frame with `msg screenshot` taken after. The
# stack runs on a session bus of its own, with a private tmpfs /tmp (dbus and the portal write there).
tandem-compositor msg outputs --json | python3 -c 'import json, sys; o = json.load(sys.stdin)["outputs"][0]; print(o["name"], o["width"], o["height"], o["captured_frames"])' >portal-output.txt
read -r output width height captured_before <portal-output.txt
weston-simple-shm >/dev/null 2>&1 &
animated=$!
windows_at_least 4
unshare -m sh -c 'mount -t tmpfs tmpfs /tmp && exec dbus-run-session -- "$VM_DIR/portal_screencast.sh" portal 5 "$1"' \
  sh "$output" >portal.log 2>&1
status=$?
tail -n 3 portal.log
tandem-compositor msg windows --json >windows-portal.json
kill $animated
sleep 1
tandem-compositor msg screenshot msg-portal.png
captured_after=$(tandem-compositor msg outputs --json | python3 -c 'import json, sys; print(json.load(sys.stdin)["outputs"][0]["captured_frames"])')
check "a screencast through xdg-desktop-portal-wlr and PipeWire records 5 frames of $output (status $status, $((captured_after - captured_before)) captures served)" \
  [ "$status" = 0 -a -s portal-04.png -a $((captured_after - captured_before)) -ge 5 ]
tandem-compositor msg vram --json >vram-after-portal.json
held=$(python3 -c 'import json, sys; print(sum(c["bytes"] for c in json.load(open(sys.argv[1]))["clients"] if "capture_buffer" in c["kinds"]))' vram-after-portal.json)
check "the screencast's buffers are released once it ends ($held bytes held)" [ "$held" = 0 ]
tell portal-done
# Output configuration on the TTY: wlr-randr lists and scales the output, kanshi sets it back.
wlr-randr >wlr-randr.txt 2>&1
check "wlr-randr lists the TTY's output" grep -q "$output" wlr-randr.txt
check "wlr-randr scales the TTY's output by 2" wlr-randr --output "$output" --scale 2
sleep 1
tell scaled
await scaled-checked
printf 'profile {\n  output %s scale 1\n}\n' "$output" >kanshi.conf
timeout 5 kanshi -c kanshi.conf >kanshi.log 2>&1
scale=$(tandem-compositor msg outputs --json | python3 -c 'import json, sys; print(json.load(sys.stdin)["outputs"][0]["scale"])')
check "kanshi sets the TTY's output back to scale 1 (scale $scale)" [ "$scale" = 1.0 ]
# Locking on the TTY: swaylock covers the output; killed, it leaves the session locked; another
# locker takes the lock over and unlocks.
session_locked() { tandem-compositor msg session | grep -q "locked: yes"; }
swaylock -c 20c040 >swaylock.log 2>&1 &
locker=$!
check "swaylock locks the TTY session" wait_for 30 session_locked
sleep 1
tell locked
await locked-checked
kill -9 $locker
sleep 1
check "the session stays locked after swaylock is killed" session_locked
tandem-test-client --lock 1 --colour ff2060e0 >takeover.log 2>&1
check "another locker takes the lock over and unlocks" bash -c '! tandem-compositor msg session | grep -q "locked: yes"'
tell unlocked
await unlocked-checked
# Idle on the TTY: swayidle (ext-idle-notify) runs its command after 2 s without input.
rm -f idled.flag
timeout 30 swayidle -w timeout 2 'touch idled.flag' >swayidle.log 2>&1 &
idler=$!
check "swayidle hears the TTY session go idle" wait_for 20 test -e idled.flag
kill $idler 2>/dev/null
# Screens off on the TTY: a wlr-output-power-management client turns the monitor off, which
# drops its DrmCompositor (the swapchain leaves the ledger, the CRTC goes off); a key pressed
# on the keyboard (the host's, through QEMU) turns it on and it is drawn again.
swapchain() { python3 -c 'import json, sys; print(sum(c["bytes"] for c in json.load(open(sys.argv[1]))["compositor"] if c["purpose"].startswith("swapchain")))' "$1"; }
powered() { tandem-compositor msg outputs --json | python3 -c 'import json, sys; sys.exit(0 if json.load(sys.stdin)["outputs"][0]["powered"] else 1)'; }
tandem-compositor msg vram --json >vram-screen-on.json
ls /proc/$compositor/fd | wc -l >fds-screen-on.txt
tandem-test-client --output-power "$output=off" >power-off.txt 2>&1
sleep 1
tandem-compositor msg vram --json >vram-screen-off.json
ls /proc/$compositor/fd | wc -l >fds-screen-off.txt
check "a wlr-output-power-management client turns the monitor off ($(tr '\n' ' ' <power-off.txt))" \
  bash -c '! powered && grep -qx "mode off" power-off.txt'
check "its swapchain leaves the ledger ($(swapchain vram-screen-on.json) -> $(swapchain vram-screen-off.json) bytes)" \
  [ "$(swapchain vram-screen-on.json)" -gt 0 -a "$(swapchain vram-screen-off.json)" = 0 ]
frames_off=$(frames)
tell screen-off
await screen-off-checked
check "a key press turns the monitor on" wait_for 20 powered
sleep 1
ls /proc/$compositor/fd | wc -l >fds-screen-back.txt
tandem-compositor msg vram --json >vram-screen-back.json
check "it is drawn again ($frames_off -> $(frames) frames), its swapchain counted again ($(swapchain vram-screen-back.json) bytes)" \
  [ "$(frames)" -gt "$frames_off" -a "$(swapchain vram-screen-back.json)" -gt 0 ]
check "no file stays open from the screen's time off ($(cat fds-screen-on.txt) open before, $(cat fds-screen-off.txt) off, $(cat fds-screen-back.txt) back)" \
  [ "$(cat fds-screen-back.txt)" -le "$(cat fds-screen-on.txt)" ]
tell screen-on
await screen-on-checked
kill $first $second
pkill -x foot
sleep 1
# With no client left and the screen off, the render GPU parks: its render node closes while
# the monitor's KMS device stays open to turn it on again; msg power on wakes both.
gpu=$(tandem-compositor msg gpus --json | python3 -c 'import json, sys; print(json.load(sys.stdin)["gpus"][0]["id"])')
gpu_parked() { tandem-compositor msg gpus | grep -q "^$gpu: parked"; }
tandem-compositor msg power off
check "with the screen off and no client, the GPU ($gpu) parks" wait_for 30 gpu_parked
ls -l /proc/$compositor/fd >fds-parked.txt
tandem-compositor msg vram --json >vram-parked.json
check "nothing is left in the ledger ($(python3 -c 'import json; print(json.load(open("vram-parked.json"))["total_bytes"])') bytes)" \
  python3 -c 'import json, sys; sys.exit(0 if json.load(open("vram-parked.json"))["total_bytes"] == 0 else 1)'
check "its render node is closed, the monitor's device open ($(grep -c /dev/dri/ fds-parked.txt) DRM fds)" \
  bash -c '! grep -qE "/dev/dri/renderD[0-9]+$" fds-parked.txt && grep -qE "/dev/dri/card[0-9]+$" fds-parked.txt'
frames_parked=$(frames)
tandem-compositor msg power on
sleep 2
check "msg power on wakes the GPU and draws the monitor ($frames_parked -> $(frames) frames)" \
  bash -c "! tandem-compositor msg gpus | grep -q '^$gpu: parked' && [ \$(tandem-compositor msg outputs --json | python3 -c 'import json, sys; print(json.load(sys.stdin)[\"outputs\"][0][\"frames\"])') -gt $frames_parked ]"
tandem-compositor msg quit
wait $compositor
status=$?
check "msg quit ends the session with status 0 (got $status)" [ "$status" = 0 ]
check "no DRM master or restore errors at teardown" \
  bash -c '! sed -n "/quit requested/,\$p" compositor.log | grep -E "ERROR|Failed to restore|Unable to clear|drop drm master"'
[ ! -s failures ]
GUEST
}

seatd_host() {
  source "$VM_DIR/host.sh"
  await shown 300 || return 1
  shot shown
  blue=$(pixels colour "$OUT/shots/shown.png" 48 48 300 200 20a0e0)
  check "the window is shown under seatd ($blue of 60000 pixels)" [ "$blue" -gt 48000 ]
  grim_blue=$(pixels colour "$OUT/grim-tty.png" 48 48 300 200 20a0e0 || echo 0)
  shot_blue=$(pixels colour "$OUT/msg-tty.png" 48 48 300 200 20a0e0 || echo 0)
  check "grim's capture on the TTY shows the window as the screen does ($grim_blue of 60000 pixels)" [ "$grim_blue" -gt 48000 ]
  check "msg screenshot on the TTY shows it too ($shot_blue of 60000 pixels)" [ "$shot_blue" -gt 48000 ]
  tell shown-checked
  await away 120 || return 1
  shot away
  blue=$(pixels colour "$OUT/shots/away.png" 48 48 300 200 20a0e0)
  check "another VT is on screen while paused ($blue window pixels left)" [ "$blue" -lt 1000 ]
  tell away-checked
  await back 120 || return 1
  sleep 1
  shot back
  blue=$(pixels colour "$OUT/shots/back.png" 48 48 300 200 20a0e0)
  read -r x y w h < <(json windows.json "' '.join(str(v) for v in next((w['x'], w['y'], w['width'], w['height']) for w in j['windows'] if w['pid'] and w['width'] == 200))")
  yellow=$(pixels colour "$OUT/shots/back.png" "$x" "$y" "$w" "$h" e0c020)
  check "after resume the first window is shown again ($blue pixels uncovered)" [ "$blue" -gt 25000 ]
  check "the window committed while paused is shown ($yellow of $((w * h)) pixels)" [ "$yellow" -gt $((w * h * 8 / 10)) ]
  tell back-checked
  await tap 120 || return 1
  input "tap:$(cat "$OUT/tap.txt")" sleep:1
  tell tapped
  await scaled 300 || return 1
  shot scaled
  blue=$(pixels colour "$OUT/shots/scaled.png" 0 0 1024 768 20a0e0)
  check "at scale 2 the window is drawn twice as large ($blue window pixels, 30000 at scale 1)" [ "$blue" -gt 90000 ]
  tell scaled-checked
  await locked 120 || return 1
  shot locked
  green=$(pixels colour "$OUT/shots/locked.png" 0 0 1024 768 20c040)
  blue=$(pixels colour "$OUT/shots/locked.png" 0 0 1024 768 20a0e0)
  check "swaylock covers the TTY's output ($green of 786432 pixels its colour, $blue window pixels)" \
    [ "$green" -gt 700000 -a "$blue" = 0 ]
  tell locked-checked
  await unlocked 120 || return 1
  sleep 1
  shot unlocked
  blue=$(pixels colour "$OUT/shots/unlocked.png" 0 0 1024 768 20a0e0)
  check "unlocked, the window is shown again ($blue pixels)" [ "$blue" -gt 25000 ]
  tell unlocked-checked
  await screen-off 120 || return 1
  shot screen-off
  blue=$(pixels colour "$OUT/shots/screen-off.png" 0 0 1024 768 20a0e0)
  check "the monitor that is off shows no window ($blue window pixels)" [ "$blue" = 0 ]
  # The key turns it on; the pointer's move after it draws a second frame (the first after a
  # modeset does not always reach QEMU's window on the virgl display: see the monitor scenario).
  input key:shift sleep:1 move:4,4 sleep:1
  tell screen-off-checked
  await screen-on 120 || return 1
  shot screen-on
  blue=$(pixels colour "$OUT/shots/screen-on.png" 0 0 1024 768 20a0e0)
  check "turned on by the key, the monitor shows the window again ($blue pixels)" [ "$blue" -gt 25000 ]
  tell screen-on-checked
  await portal-done 300 || return 1
  # The portal's frames against msg screenshot taken after: they differ in the animated window
  # only (weston-simple-shm, the top window, is gone from the screenshot), and its frames differ
  # from each other.
  read -r _ width height _ <"$OUT/portal-output.txt"
  read -r x y w h < <(json windows-portal.json "' '.join(str(j['windows'][-1][k]) for k in ('x', 'y', 'width', 'height'))")
  differ=$(pixels diff "$OUT/portal-04.png" "$OUT/msg-portal.png" 0 0 "$width" "$height" || echo -1)
  inside=$(pixels diff "$OUT/portal-04.png" "$OUT/msg-portal.png" "$x" "$y" "$w" "$h" || echo -1)
  moved=$(pixels diff "$OUT/portal-00.png" "$OUT/portal-04.png" "$x" "$y" "$w" "$h" || echo -1)
  check "the portal's last frame matches msg screenshot outside the animated window ($((differ - inside)) of $((width * height - w * h)) pixels differ)" \
    [ "$differ" -ge 0 -a "$inside" -ge 0 -a $((differ - inside)) -lt $((width * height / 1000)) ]
  check "the portal's frames follow the animated window ($moved pixels changed from the first to the last)" [ "$moved" -gt 0 ]
  [ ! -s "$OUT/failures" ]
}

# 5. Bad environments, answered with a message and an exit status, never a crash: no GPU (this
# VM has none), no seat (no seatd to talk to).
environments_guest() {
  cat <<'GUEST'
source "$VM_DIR/guest.sh"
expect_refusal no-gpu "no GPU" env LIBSEAT_BACKEND=builtin tandem-compositor --backend tty
tandem-compositor --backend tty --dry-run >dry-run.log 2>&1
check "no GPU: the dry run says so" grep -q "no GPU found" dry-run.log
expect_refusal no-seat "no seat" env LIBSEAT_BACKEND=seatd tandem-compositor --backend tty
tail -n 1 no-gpu.log no-seat.log
# Software GPUs on a kernel with /dev/udmabuf: the output fed by CPU copies (no GPU imports
# another's buffers, soft0 draws both outputs) stages them in a udmabuf that the target GPU
# (llvmpipe) samples in place.
check "the kernel offers /dev/udmabuf" [ -c /dev/udmabuf ]
mkdir -p shots
tandem-compositor --backend headless --gpus 2 --layout mirror --render-gpu 0 --no-foreign-dmabuf-imports \
  --screenshot-dir shots >headless.log 2>&1 &
headless=$!
check "the headless compositor answers over IPC" compositor_up
tandem-test-client --colour ff20c040 --size 240x160 >/dev/null 2>&1 &
check "a client is mapped" windows_at_least 1
sleep 3
tandem-compositor msg gpus | tee headless-gpus.txt
tandem-compositor msg windows --json >headless-windows.json
check "soft1's output is fed through a udmabuf that soft1 samples in place" \
  grep -q "staged in a udmabuf that soft1 samples in place" headless-gpus.txt
# The headless backend writes its screenshots every 60 frames: wait for one with the window.
for _ in $(seq 1 40); do
  counts=$(python3 "$VM_DIR/pixels.py" window shots/output-1.png headless-windows.json 240x160 20c040 || echo "0 0")
  read -r found visible <<<"$counts"
  [ "$visible" -gt 500 ] && [ "$found" -gt $((visible * 8 / 10)) ] && break
  sleep 0.5
done
check "soft1's output shows the window ($found of $visible pixels)" [ "$visible" -gt 500 -a "$found" -gt $((visible * 8 / 10)) ]
tandem-compositor msg quit
wait $headless
# Implicit sync: a client of soft1 commits a udmabuf whose write fence (a vgem fence) signals
# 3 s later, as a client whose GPU is still drawing would. With the blockers (on) the commit
# waits for its fence and nobody else does: a steady client's frame callbacks keep their pace,
# IPC answers, and the window shows once the fence signals. With TANDEM_DMABUF_BLOCKERS=0 (off)
# the CPU copy to soft0 waits for the fence on the event loop: the stall the blockers prevent.
modprobe -d /run/kernel vgem
check "vgem is loaded (late fences)" [ -d /sys/module/vgem ]
fence_session() {
  local label=$1 dir=fence-$1
  shift
  mkdir -p "$dir"
  env "$@" tandem-compositor --backend headless --gpus 2 --layout mirror --no-foreign-dmabuf-imports \
    --copy-path cpu --screenshot-dir "$dir" >"$dir/compositor.log" 2>&1 &
  local compositor=$!
  compositor_up
  tandem-test-client --app-id steady --size 160x120 --frames 100000 --frame-log "$dir/frames.txt" \
    --exit-after 12 >/dev/null 2>&1 &
  local steady=$!
  windows_at_least 1
  sleep 3
  # What an IPC answer costs here with no fence pending (a process start under TCG included).
  local idle_sent=$(date +%s%3N)
  tandem-compositor msg windows --json >/dev/null
  echo $(( $(date +%s%3N) - idle_sent )) >"$dir/ipc-idle-ms"
  # IPC answers timed from a running process: 1 s with nothing pending, then while the fence is.
  python3 "$VM_DIR/ipc_time.py" 1 "$dir/ipc-idle.txt"
  date +%s%3N >"$dir/t0"
  WAYLAND_DISPLAY=tandem-0-gpu1 tandem-test-client --app-id late --buffers udmabuf --late-fence 3 \
    --size 240x160 --colour ff20c040 --exit-after 10 >"$dir/late.txt" 2>&1 &
  local late=$!
  python3 "$VM_DIR/ipc_time.py" 2.5 "$dir/ipc-pending.txt" &
  local asks=$!
  sleep 1
  local sent=$(date +%s%3N)
  tandem-compositor msg windows --json >"$dir/windows-pending.json"
  date +%s%3N >"$dir/ipc-answered"
  echo $(( $(cat "$dir/ipc-answered") - sent )) >"$dir/ipc-ms"
  wait $asks
  sleep 3
  tandem-compositor msg windows --json >"$dir/windows-after.json"
  # The headless backend writes its screenshots every 60 frames: keep the first that shows the
  # late window on soft0's output (or the last one looked at).
  for _ in $(seq 1 20); do
    sleep 0.5
    cp "$dir/output-0.png" "$dir/output-0-shown.png" 2>/dev/null || continue
    counts=$(python3 "$VM_DIR/pixels.py" window "$dir/output-0-shown.png" \
      "$dir/windows-after.json" 240x160 20c040 || echo "0 0")
    read -r found visible <<<"$counts"
    [ "$visible" -gt 500 ] && [ "$found" -gt $((visible * 8 / 10)) ] && break
  done
  wait $steady
  kill $late 2>/dev/null; wait $late
  tandem-compositor msg quit
  wait $compositor
  # Frame callback gaps of the steady client: median before the late client started, longest
  # among those overlapping the span from the late commit to its fence's signal (a stall on the
  # fence is one gap across it), and longest in the second after it signalled.
  python3 - "$dir" >"$dir/figures.txt" <<'PY'
import json, re, statistics, sys
d = sys.argv[1]
times = [float(x) for x in open(f"{d}/frames.txt")]
t0 = float(open(f"{d}/t0").read())
late = open(f"{d}/late.txt").read()
committed = float(re.search(r"committed at (\d+)", late).group(1))
signalled = float(re.search(r"signalled at (\d+)", late).group(1))
gaps = [(b - a, a, b) for a, b in zip(times, times[1:])]
before = [g for g, _, end in gaps if end < t0]
pending = [g for g, start, end in gaps if end >= committed and start <= signalled]
shown = [g for g, _, end in gaps if signalled < end <= signalled + 1000]
drawn = lambda name: any(w["app_id"] == "late" and w["width"] > 0
                         for w in json.load(open(f"{d}/{name}"))["windows"])
print(f"{statistics.median(before):.0f} {max(pending, default=0):.0f} {len(pending)} "
      f"{max(shown, default=0):.0f} {max(pending + shown, default=0):.0f} "
      f"{int(drawn('windows-pending.json'))} {int(drawn('windows-after.json'))}")
PY
  read -r median longest callbacks first_show worst pending after <"$dir/figures.txt"
  ipc=$(cat "$dir/ipc-ms")
  ipc_idle=$(cat "$dir/ipc-idle-ms")
  ipc_answered=$(cat "$dir/ipc-answered")
  fence_signalled=$(grep -o "signalled at [0-9]*" "$dir/late.txt" | grep -o "[0-9]*$" || echo 0)
  python3 - "$dir" >"$dir/ipc-figures.txt" <<'PY'
import statistics, sys
d = sys.argv[1]
pending = [float(x) for x in open(f"{d}/ipc-pending.txt")]
idle = [float(x) for x in open(f"{d}/ipc-idle.txt")]
print(len(pending), f"{statistics.median(pending):.0f}", f"{max(pending):.0f}",
      f"{statistics.median(idle):.0f}", f"{max(idle):.0f}")
PY
  read -r asked ipc_p50 ipc_max idle_p50 idle_max <"$dir/ipc-figures.txt"
  echo "fence $label: steady client's frame callbacks every $median ms before; while a commit's fence" \
    "was pending (3 s) its longest gap was $longest ms ($callbacks callbacks); in the second after" \
    "the fence signalled, $first_show ms; IPC answered in $ipc ms ($ipc_idle ms before the late client came)" \
    "with a process start; from a running process, $asked asks while the fence was pending: median" \
    "$ipc_p50 ms, longest $ipc_max ms (nothing pending: median $idle_p50 ms, longest $idle_max ms)"
}
fence_session on
check "blockers: the late commit waits for its fence (window not drawn 1 s in)" [ "$pending" = 0 ]
check "blockers: the window shows once the fence signalled" [ "$after" = 1 ]
# The fence is held 3 s after the commit: a stall is one gap across it (over 2000 ms, as the
# run without blockers shows); under TCG a process start beside it can take a second without
# anything waiting on the fence.
check "blockers: the steady client's frame callbacks go on while the fence is pending ($callbacks callbacks, longest gap $longest ms of the fence's 3000, median $median ms before)" \
  [ "$longest" -lt 2000 -a "$callbacks" -ge 10 ]
# Asked from a new process (its start under TCG takes 0.5 to 1.5 s): the answer must come before
# the fence signals, as a loop stalled on the fence could only answer after.
check "blockers: IPC answers while the fence is pending (in $ipc ms, $((fence_signalled - ipc_answered)) ms before the fence signalled; $ipc_idle ms with nothing pending)" \
  [ "$ipc_answered" -lt "$fence_signalled" ]
check "blockers: IPC asked from a running process answers within 50 ms while the fence is pending (median $ipc_p50 ms, longest $ipc_max ms of $asked asks)" \
  [ "$ipc_p50" -lt 50 ]
counts=$(python3 "$VM_DIR/pixels.py" window fence-on/output-0-shown.png fence-on/windows-after.json 240x160 20c040 || echo "0 0")
read -r found visible <<<"$counts"
check "blockers: soft0's output shows the late window ($found of $visible pixels)" [ "$visible" -gt 500 -a "$found" -gt $((visible * 8 / 10)) ]
fence_session off TANDEM_DMABUF_BLOCKERS=0
check "without blockers the copy waits for the client's fence on the event loop (longest gap $worst ms)" \
  [ "$worst" -gt 2000 ]
[ ! -s failures ]
GUEST
}

environments_host() {
  true
}

# Two GPUs in one session, outputs mirrored (--layout mirror) so every window is on both: each
# output shows the clients on its host-side screenshot, `msg gpus` says how each output is fed,
# the clients' memory is released when they exit, and `msg quit` ends the session cleanly.
# $expect_reason is why the compositor must pick its render GPU.
two_gpus_script() {
  cat <<'GUEST'
source "$VM_DIR/guest.sh"
export LIBSEAT_BACKEND=builtin
tandem-compositor --backend tty --layout mirror >compositor.log 2>&1 &
compositor=$!
check "the compositor answers over IPC" compositor_up
check "both monitors are lit" outputs_at_least 2
tandem-compositor msg outputs --json >outputs-start.json
check "every output has a name of its own (connector names repeat across devices)" python3 -c '
import json, sys
names = [o["name"] for o in json.load(open("outputs-start.json"))["outputs"]]
print(names)
sys.exit(0 if len(names) == len(set(names)) else 1)'
check "the render GPU is chosen because: $expect_reason" \
  grep -q "primary render GPU.*reason=$expect_reason" compositor.log
tandem-test-client --colour ff20c040 --size 240x160 >/dev/null 2>&1 &
client=$!
weston-simple-shm >/dev/null 2>&1 &
shm=$!
windows=2
gbm=""
if [ -n "${gbm_client:-}" ]; then
  # A client of the GPU that renders in hardware, whose buffers that GPU allocated (GBM).
  tandem-compositor msg gpus --json >gpus-start.json
  hardware='next(g for g in json.load(open("gpus-start.json"))["gpus"] if g["renderer"].startswith("virgl"))'
  gbm_socket=$(python3 -c "import json; print($hardware['socket'])")
  gbm_node=$(python3 -c "import json; print($hardware['id'])")
  WAYLAND_DISPLAY=$gbm_socket tandem-test-client --buffers gbm --gbm-device "/dev/dri/$gbm_node" \
    --colour ffe0c020 --size 160x120 >gbm-client.log 2>&1 &
  gbm=$!
  windows=3
fi
check "the clients are mapped" windows_at_least $windows
sleep 4
tandem-compositor msg windows --json >windows.json
tandem-compositor msg vram --json >vram-shown.json
if [ -n "$gbm" ]; then
  check "msg vram counts the GBM window's bytes on the GPU that allocated it" python3 -c '
import json, sys
w = next(w for w in json.load(open("vram-shown.json"))["windows"] if w["pid"] == int(sys.argv[1]))
print(w)
sys.exit(0 if w["gpus"].get(sys.argv[2], 0) > 0 else 1)' "$gbm" "$gbm_node"
fi
tandem-compositor msg gpus --json >gpus.json
tandem-compositor msg gpus | tee gpus.txt
tandem-compositor msg outputs | tee outputs.txt
# Per output, the last frame's time from the change it shows (weston-simple-shm's commit) to
# its being queued: the display-only output's includes the copy from the render GPU.
tandem-compositor msg outputs --json >outputs.json
python3 -c '
import json
for o in json.load(open("outputs.json"))["outputs"]:
    print("frame time %s (drawn by %s, shown by %s): %s ms" % (o["name"], o["render_gpu"], o["target_gpu"], o["last_latency_ms"]))' >>timings.txt
check "every output says how it is fed (no output still pending)" python3 -c '
import json, sys
gpus = json.load(open("gpus.json"))["gpus"]
feeds = [f for g in gpus for f in g["feeds"]]
sys.exit(0 if len(feeds) == 2 and all(not f["how"].startswith("pending") for f in feeds) else 1)'
check "a display-only GPU draws through its primary node" grep -q '"draws_through": "primary node"' gpus.json
check "the output fed by CPU copies stages them in a udmabuf" grep -q "staged in a udmabuf" gpus.txt
tell shown
await shown-checked 300
kill $client $shm $gbm
i=0
until [ "$(tandem-compositor msg windows --json | grep -c '"app_id"')" -eq 0 ] || [ $i -gt 100 ]; do
  sleep 0.2
  i=$((i + 1))
done
sleep 1
tandem-compositor msg vram --json >vram-after.json
check "0 bytes held for clients once they are gone" grep -q '"client_bytes": 0' vram-after.json
# msg gpu-remove on the TTY: the last GPU's device goes as if unplugged (its monitor with it);
# the other monitor goes on being drawn from the one output registry.
removed=$(python3 -c 'import json; print(json.load(open("gpus.json"))["gpus"][-1]["id"])')
tandem-compositor msg gpu-remove --gpu "$removed" >gpu-remove.txt 2>&1
check "msg gpu-remove --gpu $removed on the TTY: one monitor left" outputs_exactly 1
failed_before=$(grep -c "rendering failed" compositor.log || true)
frames_before=$(frames)
tandem-test-client --colour ff2040e0 --size 120x90 --frames 10 --quit-after-frames >/dev/null 2>&1
sleep 1
failed_after=$(grep -c "rendering failed" compositor.log || true)
check "the remaining monitor draws after the GPU went ($frames_before -> $(frames) frames, $((failed_after - failed_before)) failed renders)" \
  [ "$(frames)" -gt "$frames_before" -a "$failed_after" = "$failed_before" ]
tandem-compositor msg quit
wait $compositor
status=$?
check "msg quit ends the session with status 0 (got $status)" [ "$status" = 0 ]
# The only errors allowed are EGL's when a GPU refuses another's buffer (the output is then fed
# by CPU copies, as msg gpus says) and smithay's when the device msg gpu-remove let go of cannot
# take back the modes it had before the compositor (the kernel refuses that state; the device is
# no longer the compositor's).
check "no crash and no errors in the log but refused imports and the released device's old modes" \
  bash -c '! grep -E "panicked|ERROR" compositor.log | grep -v -E "eglCreateImageKHR|EGLImage|Failed to restore previous state"'
[ ! -s failures ]
GUEST
}

# Every window shown on every GPU's screenshot (the GBM client's too, when there is one).
two_gpus_host() {
  source "$VM_DIR/host.sh"
  await shown 300 || return 1
  read -r sx sy sw sh < <(json windows.json "' '.join(str(v) for v in next((w['x'], w['y'], w['width'], w['height']) for w in j['windows'] if w['app_id'] != 'tandem-test-client'))")
  gbm=$(json windows.json "any(w['width'] == 160 and w['height'] == 120 for w in j['windows'])")
  for device in $VM_SHOT_DEVICES; do
    name=${device#x11:}
    shot "shown-$name" "$device"
    expect_window "shown-$name" windows.json 20c040 240x160
    [ "$gbm" = True ] && expect_window "shown-$name" windows.json e0c020 160x120
    drawn=$(pixels foreground "$OUT/shots/shown-$name.png" "$sx" "$sy" "$sw" "$sh")
    check "$name shows weston-simple-shm ($drawn of $((sw * sh)) pixels)" [ "$drawn" -gt $((sw * sh / 2)) ]
  done
  tell shown-checked
  [ ! -s "$OUT/failures" ]
}

# Two display-only GPUs (as DisplayLink docks, vkms or ARM display controllers): the first
# renders through its primary node, the second is fed from it.
display_only_guest() {
  echo 'expect_reason=First'
  two_gpus_script
}

display_only_host() { two_gpus_host; }

# A display-only GPU first and a GPU with a render node second: the render GPU is the one that
# renders in hardware, and the display-only output is fed from it. A third client, of the
# hardware GPU's socket, draws into buffer objects that GPU allocated through GBM: shown on both
# outputs, counted on that GPU.
mixed_gpus_guest() {
  echo 'expect_reason=RendersInHardware gbm_client=1'
  two_gpus_script
}

mixed_gpus_host() { two_gpus_host; }

# Unplug and replug of the display-only GPU with windows shown through it, one of them a client
# of its socket. QEMU cannot hot-unplug display devices (device_del: "does not support
# hotplugging"), so the guest's kernel removes the PCI device (sysfs remove: the driver is
# unbound and the DRM device unplugged, as on a surprise removal) and finds it again (sysfs
# rescan). The compositor keeps running; the GPU's output, socket and memory go and no fd to its
# device nodes stays open; every window stays shown on the remaining output. Plugged back, its
# output lights and a client of its socket is served. Then the render GPU goes: rendering moves
# to the display-only GPU and every window is shown there.
hotplug_guest() {
  cat <<'GUEST'
source "$VM_DIR/guest.sh"
export LIBSEAT_BACKEND=builtin
tandem-compositor --backend tty --layout mirror >compositor.log 2>&1 &
compositor=$!
check "the compositor answers over IPC" compositor_up
check "both monitors are lit" outputs_at_least 2
tandem-compositor msg gpus --json >gpus-before.json
second=$(python3 -c 'import json; print(json.load(open("gpus-before.json"))["gpus"][1]["socket"])')
pci=$(basename "$(readlink -f /sys/class/drm/card1/device)")
tandem-test-client --colour ff20c040 --size 240x160 >/dev/null 2>&1 &
WAYLAND_DISPLAY=$second tandem-test-client --colour ff2040e0 --size 200x150 >/dev/null 2>&1 &
# A client whose buffers the render GPU allocated (GBM on its render node).
render_node=$(python3 -c 'import json; print(json.load(open("gpus-before.json"))["gpus"][0]["id"])')
tandem-test-client --buffers gbm --gbm-device "/dev/dri/$render_node" --colour ffc02080 --size 140x100 >gbm-client.log 2>&1 &
gbm=$!
check "two clients of the main socket and one of $second are mapped" windows_at_least 3
sleep 3
tandem-compositor msg windows --json >windows.json
tell shown
await shown-checked 120
echo 1 >"/sys/bus/pci/devices/$pci/remove"
check "the unplugged GPU's output goes" outputs_exactly 1
sleep 2
check "clients see one wl_output ($(wl_outputs))" [ "$(wl_outputs)" = 1 ]
check "the compositor keeps running" kill -0 $compositor
tandem-compositor msg gpus --json >gpus-unplugged.json
tandem-compositor msg vram --json >vram-unplugged.json
ls -l /proc/$compositor/fd >fds-unplugged.txt
check "one GPU is left" python3 -c 'import json,sys; sys.exit(0 if len(json.load(open("gpus-unplugged.json"))["gpus"]) == 1 else 1)'
check "the ledger holds nothing on the gone GPU" python3 -c '
import json, sys
gone = {g["id"] for g in json.load(open("gpus-before.json"))["gpus"]} - {g["id"] for g in json.load(open("gpus-unplugged.json"))["gpus"]}
vram = json.load(open("vram-unplugged.json"))
sys.exit(0 if gone and not any(g["id"] in gone and g["bytes"] > 0 for g in vram["gpus"]) else 1)'
check "its socket $second is gone" [ ! -e "$XDG_RUNTIME_DIR/$second" ]
check "no fd to its device nodes stays open" bash -c '! grep -E "/dev/dri/.*deleted" fds-unplugged.txt'
check "every window stays mapped" windows_at_least 3
tell unplugged
await unplugged-checked 120
echo 1 >/sys/bus/pci/rescan
check "plugged back, its output lights" outputs_exactly 2
check "clients see two wl_outputs ($(wl_outputs))" [ "$(wl_outputs)" = 2 ]
check "its socket $second is back" [ -S "$XDG_RUNTIME_DIR/$second" ]
WAYLAND_DISPLAY=$second tandem-test-client --colour ffe0c020 --size 160x120 >/dev/null 2>&1 &
check "a new client of $second is served" windows_at_least 4
sleep 3
tandem-compositor msg windows --json >windows-replugged.json
tandem-compositor msg gpus | tee gpus-replugged.txt
tell replugged
await replugged-checked 120
# Then the render GPU goes: rendering moves to the display-only GPU, every window stays.
render_pci=$(basename "$(readlink -f /sys/class/drm/card0/device)")
echo 1 >"/sys/bus/pci/devices/$render_pci/remove"
check "the render GPU's output goes" outputs_exactly 1
sleep 3
check "the compositor keeps running without its render GPU" kill -0 $compositor
check "rendering moved to the remaining GPU" grep -q "rendering moved to another GPU" compositor.log
check "every window stays mapped" windows_at_least 4
check "the client whose buffers lived on the gone GPU is told through dmabuf feedback and allocates on the remaining one ($(tail -n 1 gbm-client.log))" \
  grep -q "buffers now on /dev/dri/" gbm-client.log
check "that client is still connected" kill -0 $gbm
tandem-test-client --colour ffe040c0 --size 120x90 >/dev/null 2>&1 &
check "a new client of the main socket is served" windows_at_least 5
sleep 3
tandem-compositor msg windows --json >windows-render-gone.json
tandem-compositor msg gpus --json >gpus-render-gone.json
tandem-compositor msg gpus | tee gpus-render-gone.txt
tandem-compositor msg vram --json >vram-render-gone.json
check "msg vram counts its new buffer on the remaining GPU" python3 -c '
import json, sys
left = json.load(open("gpus-render-gone.json"))["gpus"][0]["id"]
w = next(w for w in json.load(open("vram-render-gone.json"))["windows"] if w["pid"] == int(sys.argv[1]))
print(w)
sys.exit(0 if w["gpus"].get(left, 0) > 0 else 1)' "$gbm"
tell render-gone
await render-gone-checked 120
tandem-compositor msg quit
wait $compositor
status=$?
check "msg quit ends the session with status 0 (got $status)" [ "$status" = 0 ]
# Beside refused imports, the only errors allowed are smithay's when it cannot restore the
# state of a device that is gone (ENODEV).
check "no crash and no errors in the log but refused imports and the gone device" \
  bash -c '! grep -E "panicked|ERROR" compositor.log | grep -v -E "eglCreateImageKHR|EGLImage|No such device"'
[ ! -s failures ]
GUEST
}

hotplug_host() {
  source "$VM_DIR/host.sh"
  local virgl=${VM_SHOT_DEVICES%% *} second=${VM_SHOT_DEVICES##* }
  await shown 300 || return 1
  shot shown-virgl "$virgl"
  shot shown-second "$second"
  expect_window shown-virgl windows.json 20c040 240x160
  expect_window shown-virgl windows.json c02080 140x100
  expect_window shown-second windows.json 2040e0 200x150
  tell shown-checked
  await unplugged 120 || return 1
  shot unplugged-virgl "$virgl"
  expect_window unplugged-virgl windows.json 20c040 240x160
  expect_window unplugged-virgl windows.json 2040e0 200x150
  tell unplugged-checked
  await replugged 120 || return 1
  shot replugged-second "$second"
  expect_window replugged-second windows-replugged.json e0c020 160x120
  expect_window replugged-second windows-replugged.json 20c040 240x160
  tell replugged-checked
  await render-gone 120 || return 1
  shot render-gone "$second"
  expect_window render-gone windows-render-gone.json e040c0 120x90
  expect_window render-gone windows-render-gone.json e0c020 160x120
  expect_window render-gone windows-render-gone.json 20c040 240x160
  expect_window render-gone windows-render-gone.json c02080 140x100
  tell render-gone-checked
  [ ! -s "$OUT/failures" ]
}

# Idle GPU parking: the virgl GPU drives no monitor (its connector forced off) and the
# display-only GPU renders (TANDEM_RENDER_GPU), so nothing needs the virgl GPU: after
# --park-after it closes its EGL context and every fd to its device nodes. A client of its
# socket wakes it (its render node only) and is shown on the other GPU's output; a monitor
# plugged on it opens the device again and lights its output.
parking_guest() {
  cat <<'GUEST'
source "$VM_DIR/guest.sh"
export LIBSEAT_BACKEND=builtin
# --gpu 2d --gpu virgl: card0 is the display-only GPU, card1 the virgl GPU.
virgl_card=card1
connector=$(ls -d /sys/class/drm/"$virgl_card"-*/ | head -n 1)
echo off >"$connector/status"
render_node=$(basename "$(ls -d /sys/class/drm/"$virgl_card"/device/drm/renderD* | head -n 1)")
TANDEM_RENDER_GPU=card0 tandem-compositor --backend tty --park-after 3 >compositor.log 2>&1 &
compositor=$!
check "the compositor answers over IPC" compositor_up
check "one monitor is lit" outputs_exactly 1
tandem-compositor msg gpus --json >gpus-start.json
check "$render_node is the virgl GPU" python3 -c '
import json, sys
sys.exit(0 if any(g["id"] == sys.argv[1] and g["renderer"].startswith("virgl") for g in json.load(open("gpus-start.json"))["gpus"]) else 1)' "$render_node"
parked() { tandem-compositor msg gpus --json | python3 -c '
import json, sys
sys.exit(0 if any(g["id"] == sys.argv[1] and g["parked"] for g in json.load(sys.stdin)["gpus"]) else 1)' "$render_node"; }
started=$(date +%s%N)
check "the GPU with no monitor and no client ($render_node) is parked" wait_for 20 parked
echo "parked after $((($(date +%s%N) - started) / 1000000)) ms" >>timings.txt
tandem-compositor msg gpus | tee gpus-parked.txt
tandem-compositor msg gpus --json >gpus-parked.json
ls -l /proc/$compositor/fd >fds-parked.txt
check "no fd to $virgl_card or $render_node stays open" bash -c "! grep -E '/dev/dri/($virgl_card|$render_node)\$' fds-parked.txt"
socket=$(python3 -c 'import json,sys; print(next(g["socket"] for g in json.load(open("gpus-parked.json"))["gpus"] if g["id"] == sys.argv[1]))' "$render_node")
WAYLAND_DISPLAY=$socket tandem-test-client --buffers gbm --gbm-device "/dev/dri/$render_node" --colour ffc02080 --size 200x150 >client.log 2>&1 &
client=$!
check "a client of its socket ($socket) is mapped" windows_at_least 1
sleep 3
tandem-compositor msg gpus --json >gpus-woken.json
tandem-compositor msg gpus | tee gpus-woken.txt
tandem-compositor msg windows --json >windows.json
ls -l /proc/$compositor/fd >fds-woken.txt
check "the client woke it" python3 -c '
import json, sys
g = next(g for g in json.load(open("gpus-woken.json"))["gpus"] if g["id"] == sys.argv[1])
print("woke in", g["last_wake_ms"], "ms")
sys.exit(0 if not g["parked"] and g["last_wake_ms"] is not None else 1)' "$render_node"
python3 -c 'import json,sys; print("wake", next(g["last_wake_ms"] for g in json.load(open("gpus-woken.json"))["gpus"] if g["id"] == sys.argv[1]), "ms")' "$render_node" >>timings.txt
check "awake, it holds its render node open again" grep -qE "/dev/dri/$render_node\$" fds-woken.txt
tell shown
await shown-checked 120
echo detect >"$connector/status"
echo change >"/sys/class/drm/$virgl_card/uevent"
check "a monitor plugged on it opens the device and lights its output" outputs_exactly 2
kill $client
tandem-compositor msg quit
wait $compositor
status=$?
check "msg quit ends the session with status 0 (got $status)" [ "$status" = 0 ]
# Beside refused imports, the one error allowed is smithay's when the parked device, paused
# before it is closed, gives up DRM master (the kernel refuses it with EINVAL here; closing the
# fd right after drops master anyway).
check "no crash and no errors in the log but refused imports and the master drop" \
  bash -c '! grep -E "panicked|ERROR" compositor.log | grep -v -E "eglCreateImageKHR|EGLImage|Failed to drop drm master state"'
[ ! -s failures ]
GUEST
}

parking_host() {
  source "$VM_DIR/host.sh"
  await shown 300 || return 1
  shot shown "${VM_SHOT_DEVICES%% *}"
  expect_window shown windows.json c02080 200x150
  tell shown-checked
  [ ! -s "$OUT/failures" ]
}

# 5. A GPU whose render node cannot be opened: refused with the reason. No connected monitor at
# start (the kernel's connector forced off through sysfs): the compositor runs and serves
# clients with no output, and lights the output when the monitor appears (connector back to detection, and the change event the kernel sends on a plug),
# showing the window mapped meanwhile. Then an X11 client: Xwayland starts for it, renders with
# glamor on the virgl GPU, and its window is shown on the output and counted in msg vram.
monitor_guest() {
  cat <<'GUEST'
source "$VM_DIR/guest.sh"
export LIBSEAT_BACKEND=builtin
# A GPU whose render node cannot be opened (moved out of /dev): Mesa's driver finds no render
# device for the primary node either, so the GPU is unusable, and the compositor says why.
mv /dev/dri/renderD128 /run/renderD128.hidden
expect_refusal render-node-gone "its render node is unusable" tandem-compositor --backend tty
mv /run/renderD128.hidden /dev/dri/renderD128
tail -n 1 render-node-gone.log
connector=$(ls -d /sys/class/drm/card0-*/ | head -n 1)
echo off >"$connector/status"
check "the monitor is disconnected" grep -q "^disconnected" "$connector/status"
tandem-compositor --backend tty >compositor.log 2>&1 &
compositor=$!
check "the compositor runs with no monitor" compositor_up
check "it drives no output" outputs_exactly 0
tandem-test-client --colour ff20c040 --size 240x160 >/dev/null 2>&1 &
check "a client is mapped with no output" windows_at_least 1
echo detect >"$connector/status"
# A forced status sends no uevent; the kernel's own on a real plug is this change event.
echo change >/sys/class/drm/card0/uevent
check "the monitor appears and its output lights" outputs_exactly 1
sleep 2
# Another commit draws the output again: the first frame after the monitor appeared did not
# reach QEMU's window on this virgl display (the compositor counted it queued).
tandem-test-client --colour ff2040e0 --size 100x80 >/dev/null 2>&1 &
windows_at_least 2
sleep 3
tandem-compositor msg windows --json >windows.json
tandem-compositor msg outputs | tee outputs.txt
tell shown
await shown-checked 120
# X11 through Xwayland, started by the first X11 client, with glamor rendering on the virgl GPU
# (the root is read-only: the display has only its abstract socket, and xkbcomp's output
# directory, /usr/share/X11/xkb/compiled, is made writable on a copy of the keyboard data).
mkdir -p /run/xkb && cp -a /usr/share/X11/xkb/. /run/xkb/ && mkdir -p /run/xkb/compiled
mount --bind /run/xkb /usr/share/X11/xkb
DISPLAY=$(sed -n 's/^DISPLAY=//p' compositor.log)
export DISPLAY
check "the compositor offers an X11 display ($DISPLAY)" [ -n "$DISPLAY" ]
tandem-test-client --x11 --colour ffe08020 --size 220x140 --app-id x11-glamor >x11-client.log 2>&1 &
x11=$!
check "an X11 window is mapped through Xwayland" window_drawn x11-glamor
sleep 3
tandem-compositor msg windows --json >windows-x11.json
tandem-compositor msg vram --json >vram-x11.json
cp "$XDG_RUNTIME_DIR"/xwayland-*.log . 2>/dev/null
xwayland=$(pgrep -x Xwayland)
check "Xwayland's glamor holds the virgl GPU's render node" \
  bash -c "ls -l /proc/$xwayland/fd | grep -q renderD128"
check "msg vram lists the X11 window with its bytes" python3 -c '
import json, sys
w = [w for w in json.load(open("vram-x11.json"))["windows"] if w["app_id"] == "x11-glamor"]
sys.exit(0 if w and w[0]["shell"] == "x11" and w[0]["bytes"] > 0 else 1)'
# The test clients' windows are shm; a client dma-buf held for display is glamor's.
check "the X11 window's buffer is a dma-buf from glamor, held as one" python3 -c '
import json, sys
gpus = json.load(open("vram-x11.json"))["gpus"]
sys.exit(0 if sum(g["kinds"]["pinned_client_buffer"]["bytes"] for g in gpus) >= 220 * 140 * 4 else 1)'
tell x11-shown
await x11-checked 120
kill $x11
check "the X11 window goes when its client exits" \
  wait_for 30 bash -c '! tandem-compositor msg windows --json | grep -q x11-glamor'
tandem-compositor msg quit
wait $compositor
status=$?
check "msg quit ends the session with status 0 (got $status)" [ "$status" = 0 ]
[ ! -s failures ]
GUEST
}

monitor_host() {
  source "$VM_DIR/host.sh"
  await shown 300 || return 1
  shot shown
  expect_window shown windows.json 20c040 240x160
  tell shown-checked
  await x11-shown 300 || return 1
  shot x11-shown
  expect_window x11-shown windows-x11.json e08020 220x140
  tell x11-checked
  [ ! -s "$OUT/failures" ]
}

# DRM leasing: a display-only GPU with two connectors; the configuration marks the second for
# leasing (QEMU cannot mark a connector non-desktop, as a VR headset's is). The desktop lights
# the first only; a client leases the second and lights it itself in its own colour, seen on
# that head's host-side screenshot; when the client drops the lease the connector is offered
# again and leased a second time.
lease_guest() {
  cat <<'GUEST'
source "$VM_DIR/guest.sh"
export LIBSEAT_BACKEND=builtin
# QEMU enables a virtio-gpu's second head only for a UI that asks; forced on, it has modes.
for status in /sys/class/drm/card*-Virtual-2/status; do echo on >"$status"; done
printf '[outputs.Virtual-2]\nlease = true\n' >lease.toml
# Without CAP_SYS_ADMIN, as a compositor started by a user runs: with it every fd of the device
# is authenticated and smithay 0.7 refuses to hand clients one (it takes them for masters).
setpriv --bounding-set=-sys_admin --inh-caps=-sys_admin \
  tandem-compositor --backend tty --config lease.toml >compositor.log 2>&1 &
compositor=$!
check "the compositor answers over IPC" compositor_up
check "the second connector is offered for leasing" \
  wait_for 20 grep -q "connector offered for leasing" compositor.log
tandem-compositor msg outputs | tee outputs.txt
check "the desktop drives the first connector only" outputs_exactly 1
tandem-test-client --colour ff20c040 --size 240x160 >/dev/null 2>&1 &
windows_at_least 1
tandem-test-client --lease 30 --colour ff3080c0 >lease.txt 2>&1 &
lease=$!
check "a client is granted the lease and lights the connector itself" \
  wait_for 30 grep -q "lease: showing" lease.txt
cat lease.txt
sleep 2
tandem-compositor msg windows --json >windows.json
tell leased
await leased-checked 120
kill $lease
wait $lease
check "the lease ends when its client goes" wait_for 20 grep -q "lease ended" compositor.log
tandem-test-client --lease 1 --colour ffc03030 >lease-again.txt 2>&1
cat lease-again.txt
check "the connector is offered again and leased a second time" grep -q "lease: showing" lease-again.txt
check "the compositor still drives one output" outputs_exactly 1
tandem-compositor msg quit
wait $compositor
status=$?
check "msg quit ends the session with status 0 (got $status)" [ "$status" = 0 ]
[ ! -s failures ]
GUEST
}

lease_host() {
  source "$VM_DIR/host.sh"
  await leased 300 || return 1
  shot desktop gpu0
  shot leased gpu0:1
  expect_window desktop windows.json 20c040 240x160
  local size w h leased
  size=$(grep -o "at [0-9]*x[0-9]*" "$OUT/lease.txt" | grep -o "[0-9]*x[0-9]*" || echo 0x0)
  w=${size%x*} h=${size#*x}
  leased=$(pixels colour "$OUT/shots/leased.png" 0 0 "$w" "$h" 3080c0 || echo 0)
  check "the leased head shows the client's colour ($leased of its ${w}x$h pixels)" \
    [ "$leased" -gt $((w * h * 9 / 10)) ]
  local on_desktop
  on_desktop=$(pixels colour "$OUT/shots/desktop.png" 0 0 1024 768 3080c0 || echo 0)
  check "the desktop's head does not show it ($on_desktop pixels)" [ "$on_desktop" -lt 1000 ]
  tell leased-checked
  [ ! -s "$OUT/failures" ]
}

# Reconnect churn: the display-only GPU unplugged and plugged back $TANDEM_VM_CHURN times (50 by
# default) with windows open. After each replug, once its output drew a frame, the ledger and
# the compositor's RSS are sampled (churn.csv): the ledger must be back to its first value and
# RSS must not trend upward (its floor over the last ten cycles less than 8 MiB above its floor
# over cycles 4 to 13).
churn_guest() {
  echo "cycles=${TANDEM_VM_CHURN:-50}"
  cat <<'GUEST'
source "$VM_DIR/guest.sh"
export LIBSEAT_BACKEND=builtin
tandem-compositor --backend tty --layout mirror >compositor.log 2>&1 &
compositor=$!
check "the compositor answers over IPC" compositor_up
check "both monitors are lit" outputs_at_least 2
tandem-test-client --colour ff20c040 --size 240x160 >/dev/null 2>&1 &
WAYLAND_DISPLAY=tandem-0-gpu1 tandem-test-client --colour ff2040e0 --size 200x150 >/dev/null 2>&1 &
check "two windows are mapped" windows_at_least 2
sleep 3
sample() {
  local bytes rss
  # Tandem's ledger without the swapchains (DrmCompositor allocates 2 to 4 of those as frames
  # need), and the swapchain buffers on their own.
  read -r bytes swapchains <<<"$(tandem-compositor msg vram --json | python3 -c '
import json, sys
j = json.load(sys.stdin)
own = [c for c in j["compositor"] if c["purpose"].startswith("swapchain")]
print(j["total_bytes"] - sum(c["bytes"] for c in own), sum(c["objects"] for c in own))')"
  rss=$(awk '/^VmRSS/ {print $2}' /proc/$compositor/status)
  echo "$1,$bytes,$rss,$swapchains" >>churn.csv
}
# Waits until every output drew a frame after the replug.
frames_after() {
  local i=0
  until [ "$(frames)" -gt "$1" ]; do
    i=$((i + 1))
    [ $i -gt 150 ] && return 1
    sleep 0.2
  done
}
echo "cycle,ledger_bytes,rss_kib,swapchain_buffers" >churn.csv
sample 0
started=$(date +%s)
# The PCI address stays; the card's number changes with each replug.
pci=$(basename "$(readlink -f /sys/class/drm/card1/device)")
for cycle in $(seq 1 "$cycles"); do
  echo 1 >"/sys/bus/pci/devices/$pci/remove"
  outputs_exactly 1 || { echo "cycle $cycle: the output did not go" >>failures; break; }
  before=$(frames)
  echo 1 >/sys/bus/pci/rescan
  outputs_exactly 2 || { echo "cycle $cycle: the output did not come back" >>failures; break; }
  frames_after "$before" || true
  sleep 0.5
  sample "$cycle"
done
echo "churn: $cycles unplug/replug cycles in $(($(date +%s) - started)) s (TCG)" >timings.txt
check "the compositor is alive after $cycles cycles" kill -0 $compositor
check "both windows are still mapped" windows_at_least 2
check "clients see two wl_outputs after the churn ($(wl_outputs))" [ "$(wl_outputs)" = 2 ]
check "the ledger is back to its first value and RSS does not trend upward" python3 -c '
import csv, sys
table = list(csv.DictReader(open("churn.csv")))
rows = [(int(r["cycle"]), int(r["ledger_bytes"]), int(r["rss_kib"])) for r in table]
# Two outputs, at most four swapchain buffers each: one kept per cycle would pass that by far.
swapchains = max(int(r["swapchain_buffers"]) for r in table)
if len(rows) < 12:
    sys.exit(1)
first, last = rows[1], rows[-1]
# A buffer alive at sampling time adds a few MiB now and then: the floor of each stretch shows a
# trend, the cycles before the fourth are warm-up. The allocator keeps a grown heap (a step of
# 1 to 3 MiB is seen now and then); one scanout buffer kept per cycle would add 3 MiB a cycle.
early = min(r for _, _, r in rows[4:14])
late = min(r for _, _, r in rows[-10:])
line = f"churn: ledger {first[1]} -> {last[1]} bytes; RSS floor {early} KiB (cycles 4-13) -> {late} KiB (last 10); at most {swapchains} swapchain buffers"
print(line)
open("timings.txt", "a").write(line + "\n")
sys.exit(0 if last[1] == first[1] and late - early < 8192 and 0 < swapchains <= 8 else 1)'
tandem-compositor msg quit
wait $compositor
status=$?
check "msg quit ends the session with status 0 (got $status)" [ "$status" = 0 ]
[ ! -s failures ]
GUEST
}

churn_host() {
  true
}
