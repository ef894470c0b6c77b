#!/usr/bin/python3
"""A screen-sharing client of xdg-desktop-portal, as browsers are: asks the ScreenCast portal for a
monitor (CreateSession, SelectSources, Start), opens the PipeWire remote the portal hands over and
records frames of the stream with GStreamer's pipewiresrc into PNGs.

  portal_screencast.py PATTERN FRAMES    PATTERN is multifilesink's location, e.g. cast-%02d.png

Prints the stream's node and size; exits with GStreamer's status, or 1 with the portal's answer
when a request is refused.
"""
import subprocess
import sys

from gi.repository import Gio, GLib

PORTAL = ("org.freedesktop.portal.Desktop", "/org/freedesktop/portal/desktop")
SCREENCAST = "org.freedesktop.portal.ScreenCast"
SIGNATURES = {
    "CreateSession": "(a{sv})",
    "SelectSources": "(oa{sv})",
    "Start": "(osa{sv})",
}
MONITOR = 1
TIMEOUT_MS = 60000


class Portal:
    def __init__(self):
        self.bus = Gio.bus_get_sync(Gio.BusType.SESSION, None)
        self.sender = self.bus.get_unique_name()[1:].replace(".", "_")
        self.requests = 0

    def request(self, method, *args):
        """Calls METHOD with ARGS (the last one its options) and returns the results of the
        Response signal on its request object."""
        self.requests += 1
        token = f"tandem{self.requests}"
        path = f"/org/freedesktop/portal/desktop/request/{self.sender}/{token}"
        loop, answer = GLib.MainLoop(), {}

        def on_response(_bus, _sender, _path, _interface, _signal, parameters):
            answer["code"], answer["results"] = parameters.unpack()
            loop.quit()

        subscription = self.bus.signal_subscribe(
            PORTAL[0], "org.freedesktop.portal.Request", "Response", path, None,
            Gio.DBusSignalFlags.NONE, on_response)
        args[-1]["handle_token"] = GLib.Variant("s", token)
        self.bus.call_sync(*PORTAL, SCREENCAST, method, GLib.Variant(SIGNATURES[method], args),
                           None, Gio.DBusCallFlags.NONE, TIMEOUT_MS, None)
        timeout = GLib.timeout_add(TIMEOUT_MS, loop.quit)
        loop.run()
        GLib.source_remove(timeout)
        self.bus.signal_unsubscribe(subscription)
        if answer.get("code") != 0:
            sys.exit(f"{method}: the portal answered {answer.get('code', 'nothing')} {answer.get('results')}")
        return answer["results"]

    def pipewire_remote(self, session):
        reply, fds = self.bus.call_with_unix_fd_list_sync(
            *PORTAL, SCREENCAST, "OpenPipeWireRemote", GLib.Variant("(oa{sv})", (session, {})),
            GLib.VariantType("(h)"), Gio.DBusCallFlags.NONE, TIMEOUT_MS, None, None)
        return fds.get(reply.unpack()[0])


def main(pattern, frames):
    portal = Portal()
    session = portal.request(
        "CreateSession", {"session_handle_token": GLib.Variant("s", "tandem")})["session_handle"]
    portal.request("SelectSources", session,
                   {"types": GLib.Variant("u", MONITOR), "multiple": GLib.Variant("b", False)})
    node, properties = portal.request("Start", session, "", {})["streams"][0]
    print(f"stream node {node}, size {properties.get('size')}", flush=True)
    fd = portal.pipewire_remote(session)
    record = ["gst-launch-1.0", "pipewiresrc", f"fd={fd}", f"path={node}",
              f"num-buffers={frames}", "always-copy=true", "!", "videoconvert", "!", "pngenc",
              "!", "multifilesink", f"location={pattern}"]
    return subprocess.run(record, pass_fds=[fd], timeout=120).returncode


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] in ("-h", "--help"):
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1], int(sys.argv[2])))
