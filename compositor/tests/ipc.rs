//! IPC never blocks the compositor: silent connections and a peer that never reads its (large)
//! reply leave frames flowing and other `msg` clients answered.

mod common;

use common::*;

#[test]
fn silent_and_non_reading_ipc_peers_do_not_stall_the_compositor() {
    require("python3", "python3");
    let script = r#"
tandem-test-client --frames 100000 --size 64x64 >/dev/null 2>&1 & client=$!
i=0
until [ "$(tandem-compositor msg windows --json | grep -c app_id)" -ge 1 ]; do
  i=$((i+1)); [ $i -gt 100 ] && break; sleep 0.1
done
python3 - <<'EOF' > "$OUT/ipc.json"
import json, os, socket, subprocess, time

def frames():
    # None when the compositor does not answer (msg gives up, or this runs out of time).
    try:
        out = subprocess.run(["tandem-compositor", "msg", "outputs", "--json"],
                             capture_output=True, timeout=60, text=True)
    except subprocess.TimeoutExpired:
        return None
    if out.returncode != 0:
        return None
    return sum(o["frames"] for o in json.loads(out.stdout)["outputs"])

path = os.environ["TANDEM_SOCKET"]
before = frames()
silent = []
for _ in range(50):
    peer = socket.socket(socket.AF_UNIX)
    peer.connect(path)
    silent.append(peer)
# A bad request whose error reply quotes it, escaped: about 400 KiB, more than the socket holds,
# to a peer that never reads.
greedy = socket.socket(socket.AF_UNIX)
greedy.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
greedy.connect(path)
greedy.sendall(b"\x01" * 60000 + b"\n")
time.sleep(1)
started = time.monotonic()
during = frames()
took = time.monotonic() - started
answered = during is not None
time.sleep(1)
after = (frames() if answered else None) or before
print(json.dumps({"answered": answered, "answer_s": took,
                  "frames_before": before, "frames_during": during, "frames_after": after}))
EOF
kill $client; wait
tandem-compositor msg quit
"#;
    let run = run_compositor(
        &[
            "--backend",
            "headless",
            "--gpus",
            "1",
            "--output",
            "320x240",
        ],
        script,
        &[],
    );
    let text = std::fs::read_to_string(run.path("ipc.json")).unwrap_or_default();
    assert!(
        !text.trim().is_empty(),
        "the probe reported nothing:\n{}\n{}",
        run.stdout,
        run.stderr
    );
    let report = run.json("ipc.json");
    println!("{report}");
    assert_eq!(
        report["answered"], true,
        "another msg client was answered while 50 silent peers and one non-reading peer were connected: {report}\n{}",
        run.stderr
    );
    let before = report["frames_before"].as_u64().expect("frames");
    let after = report["frames_after"].as_u64().expect("frames");
    assert!(
        after > before,
        "frames kept coming while the peers were connected: {report}"
    );
}
