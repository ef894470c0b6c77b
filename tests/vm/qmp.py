#!/usr/bin/env python3
"""The VM's monitor (QMP) from the host: screenshots, input, device hotplug.

  qmp.py shots SOCKET DIR SECS DEV...   screenshot every SECS s until QEMU exits: DEV gpuN is taken
                                        with QMP screendump, x11:gpuN from the Xvfb screen ($DISPLAY)
  qmp.py shot SOCKET DEV FILE           one screenshot of DEV (gpuN, gpuN:HEAD or x11:gpuN) into FILE
  qmp.py wait SOCKET                    wait until the monitor answers
  qmp.py input SOCKET ACTION...         inject input; ACTION is one of
        move:DX,DY       relative pointer motion (virtio mouse)
        abs:X,Y          absolute position in 0..1 of the screen (virtio tablet)
        click            left button press and release
        tap:X,Y          a finger down and up at X,Y in 0..1 of the screen (virtio multitouch)
        key:a-b-c        a key combination by QEMU key codes (ctrl-alt-backspace, meta_l-ret)
        type:TEXT        the text's letters, digits and spaces, one key each
        sleep:SECS
  qmp.py cmd SOCKET JSON                any QMP command, e.g. '{"execute":"device_del",...}'
"""
import json
import os
import shutil
import socket
import subprocess
import sys
import time


class Monitor:
    def __init__(self, path, timeout=60.0):
        deadline = time.time() + timeout
        while True:
            try:
                self.sock = socket.socket(socket.AF_UNIX)
                self.sock.connect(path)
                break
            except OSError:
                self.sock.close()
                if time.time() > deadline:
                    raise
                time.sleep(0.1)
        self.file = self.sock.makefile("rw")
        self.file.readline()
        self.execute("qmp_capabilities")

    def execute(self, command, **arguments):
        message = {"execute": command}
        if arguments:
            message["arguments"] = arguments
        self.file.write(json.dumps(message) + "\n")
        self.file.flush()
        while True:
            line = self.file.readline()
            if not line:
                raise EOFError("QEMU closed the monitor")
            reply = json.loads(line)
            if "return" in reply or "error" in reply:
                return reply


def x11_window(name):
    """The id of QEMU's SDL window of the virgl GPU. QEMU titles it "QEMU (NAME)" when it has one
    console, "QEMU (NAME-0)" ... when it has more; run.sh makes the virgl GPU console 0."""
    tree = subprocess.run(["xwininfo", "-root", "-children"], capture_output=True, text=True)
    # The title may go on (" - Press Ctrl-Alt-G to exit grab").
    for title in (f'"QEMU ({name})', f'"QEMU ({name}-0)'):
        for line in tree.stdout.splitlines():
            line = line.strip()
            if line.startswith("0x") and title in line:
                return line.split()[0]
    return None


def shot(monitor, device, name):
    """One screenshot of a GPU's scanout: QMP screendump, or the Xvfb screen for x11:gpuN."""
    if device.startswith("x11:"):
        convert = shutil.which("convert", path="/usr/bin") or "convert"
        window = x11_window("tandem-vm")
        command = ["xwd", "-silent"] + (["-id", window] if window else ["-root"])
        xwd = subprocess.run(command, capture_output=True)
        if xwd.returncode == 0:
            subprocess.run([convert, "xwd:-", f"PNG24:{name}"], input=xwd.stdout, check=False)
        monitor.execute("query-status")
        return xwd.returncode == 0
    # gpuN:H is head H of a GPU with several connectors.
    device, _, head = device.partition(":")
    arguments = {"filename": name, "device": device, "format": "png"}
    if head:
        arguments["head"] = int(head)
    reply = monitor.execute("screendump", **arguments)
    if "error" in reply:
        print(f"qmp: {device}: {reply['error'].get('desc')}", file=sys.stderr)
        return False
    return True


def shots(path, directory, interval, devices):
    os.makedirs(directory, exist_ok=True)
    monitor = Monitor(path)
    n = 0
    try:
        while True:
            time.sleep(interval)
            n += 1
            for device in devices:
                short = device.removeprefix("x11:").replace(":", "-head")
                shot(monitor, device, f"{directory}/{short}-{n:03d}.png")
    except (EOFError, OSError):
        pass


def key_event(code, down):
    return {"type": "key", "data": {"down": down, "key": {"type": "qcode", "data": code}}}


def keys(monitor, combo):
    codes = combo.split("-")
    monitor.execute("input-send-event", events=[key_event(c, True) for c in codes])
    time.sleep(0.05)
    monitor.execute("input-send-event", events=[key_event(c, False) for c in reversed(codes)])
    time.sleep(0.05)


def text_codes(text):
    for char in text:
        if char == " ":
            yield "spc"
        elif char.isalnum():
            yield char.lower()
        elif char == "\n":
            yield "ret"
        else:
            raise ValueError(f"cannot type {char!r}")


def inject(monitor, action):
    verb, _, value = action.partition(":")
    if verb == "move":
        dx, dy = (int(v) for v in value.split(","))
        monitor.execute("input-send-event", events=[
            {"type": "rel", "data": {"axis": "x", "value": dx}},
            {"type": "rel", "data": {"axis": "y", "value": dy}}])
    elif verb == "abs":
        x, y = (float(v) for v in value.split(","))
        monitor.execute("input-send-event", events=[
            {"type": "abs", "data": {"axis": "x", "value": int(x * 0x7FFF)}},
            {"type": "abs", "data": {"axis": "y", "value": int(y * 0x7FFF)}}])
    elif verb == "click":
        for down in (True, False):
            monitor.execute("input-send-event", events=[
                {"type": "btn", "data": {"down": down, "button": "left"}}])
            time.sleep(0.05)
    elif verb == "tap":
        x, y = (float(v) for v in value.split(","))
        touch = {"slot": 0, "tracking-id": 1}
        monitor.execute("input-send-event", events=[
            {"type": "mtt", "data": {**touch, "type": "begin", "axis": "x", "value": 0}},
            {"type": "mtt", "data": {**touch, "type": "data", "axis": "x",
                                     "value": int(x * 0x7FFF)}},
            {"type": "mtt", "data": {**touch, "type": "data", "axis": "y",
                                     "value": int(y * 0x7FFF)}}])
        time.sleep(0.1)
        monitor.execute("input-send-event", events=[
            {"type": "mtt", "data": {"slot": 0, "tracking-id": -1, "type": "end", "axis": "x",
                                     "value": 0}}])
    elif verb == "key":
        keys(monitor, value)
    elif verb == "type":
        for code in text_codes(value):
            keys(monitor, code)
    elif verb == "sleep":
        time.sleep(float(value))
    else:
        raise ValueError(f"unknown input action {action!r}")
    time.sleep(0.05)


def main(argv):
    if len(argv) < 3 or argv[1] in ("-h", "--help"):
        print(__doc__)
        return 0 if len(argv) > 1 else 2
    verb, path = argv[1], argv[2]
    if verb == "shots":
        shots(path, argv[3], float(argv[4]), argv[5:])
    elif verb == "shot":
        return 0 if shot(Monitor(path), argv[3], argv[4]) else 1
    elif verb == "wait":
        Monitor(path)
    elif verb == "input":
        monitor = Monitor(path)
        for action in argv[3:]:
            inject(monitor, action)
    elif verb == "cmd":
        request = json.loads(argv[3])
        reply = Monitor(path).execute(request["execute"], **request.get("arguments", {}))
        print(json.dumps(reply))
        return 1 if "error" in reply else 0
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
