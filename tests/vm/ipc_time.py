#!/usr/bin/env python3
"""Times IPC answers from a process already running (no process start counted):

  ipc_time.py SECONDS OUT     asks `windows` every 50 ms for SECONDS, writes each answer's time
                              in milliseconds (one per line) to OUT

The socket is TANDEM_SOCKET, or the only tandem-*.ipc.sock in XDG_RUNTIME_DIR.
"""
import glob
import os
import socket
import sys
import time


def socket_path():
    if os.environ.get("TANDEM_SOCKET"):
        return os.environ["TANDEM_SOCKET"]
    found = glob.glob(os.path.join(os.environ.get("XDG_RUNTIME_DIR", "/tmp"), "tandem-*.ipc.sock"))
    if len(found) != 1:
        raise SystemExit(f"ipc_time: expected one IPC socket, found {found}")
    return found[0]


def ask(path):
    started = time.monotonic()
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(10)
        s.connect(path)
        s.sendall(b'{"request":"windows"}\n')
        reply = b""
        while not reply.endswith(b"\n"):
            chunk = s.recv(65536)
            if not chunk:
                break
            reply += chunk
    return (time.monotonic() - started) * 1000


def main(argv):
    if len(argv) != 3 or argv[1] in ("-h", "--help"):
        print(__doc__)
        return 2
    seconds, out = float(argv[1]), argv[2]
    path = socket_path()
    end = time.monotonic() + seconds
    times = []
    while time.monotonic() < end:
        times.append(ask(path))
        time.sleep(0.05)
    with open(out, "w") as f:
        f.writelines(f"{t:.1f}\n" for t in times)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
