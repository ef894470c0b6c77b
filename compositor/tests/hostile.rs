//! Hostile clients against the headless compositor on two GPUs: each case gets the answer it
//! expects (a protocol error for that client, or none), the compositor keeps serving a healthy
//! client after every case, and nothing stays in the ledger.

mod common;

use common::*;

#[test]
fn every_hostile_case_is_answered_and_the_compositor_keeps_serving() {
    let script = r#"
for socket in "$WAYLAND_DISPLAY" "$WAYLAND_DISPLAY-gpu1"; do
  for case in $(tandem-test-client --list-hostile | cut -f1); do
    WAYLAND_DISPLAY=$socket tandem-test-client --hostile "$case" >> "$OUT/hostile.txt" 2>&1 \
      || echo "$case: client failed" >> "$OUT/hostile.txt"
    WAYLAND_DISPLAY=$socket tandem-test-client --frames 2 --quit-after-frames \
      && echo "$case: healthy" >> "$OUT/healthy.txt"
  done
done
wait_released
tandem-compositor msg vram --json > "$OUT/after.json"
tandem-compositor msg quit
"#;
    let script = format!("{WAIT_RELEASED}{script}");
    let run = run_compositor(
        &two_gpus_mirrored(&["--no-foreign-dmabuf-imports"]),
        &script,
        &[],
    );
    let results = std::fs::read_to_string(run.path("hostile.txt")).expect("results");
    let cases = tandem_test_client::hostile::cases().count();
    let answered: Vec<&str> = results
        .lines()
        .filter(|l| l.contains(": as expected"))
        .collect();
    assert!(
        !results.contains("UNEXPECTED") && !results.contains("client failed"),
        "unexpected answers:\n{results}\n{}",
        run.stderr
    );
    assert_eq!(
        answered.len(),
        2 * cases,
        "every case on both sockets:\n{results}"
    );
    let healthy = std::fs::read_to_string(run.path("healthy.txt")).expect("healthy");
    assert_eq!(
        healthy.lines().count(),
        2 * cases,
        "a healthy client after every case"
    );
    assert_eq!(run.json("after.json")["total_bytes"].as_u64(), Some(0));
}

/// Clients killed with SIGKILL at varying points (before connecting, mid-commit, mid-copy),
/// alternating shm on the main socket and dmabufs on GPU 1's socket shown through shadow copies
/// on both GPUs. `KILL_CYCLES` sets the count (default 200; `just fuzz` style runs use 1000).
#[test]
fn clients_killed_at_random_points_leave_nothing_behind() {
    let cycles: usize = std::env::var("KILL_CYCLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let script = format!(
        r#"
i=0
while [ $i -lt {cycles} ]; do
  if [ $((i % 2)) -eq 0 ]; then
    tandem-test-client --frames 1000 --size 128x96 & pid=$!
  else
    WAYLAND_DISPLAY=$WAYLAND_DISPLAY-gpu1 tandem-test-client --buffers dmabuf --frames 1000 --size 128x96 & pid=$!
  fi
  sleep 0.0$((i * 7 % 10))
  kill -9 $pid; wait $pid 2>/dev/null
  i=$((i+1))
done
echo "$i" > "$OUT/killed.txt"
tandem-test-client --frames 2 --quit-after-frames && echo healthy > "$OUT/healthy.txt"
sleep 0.3
tandem-compositor msg vram --json > "$OUT/after.json"
tandem-compositor msg quit
"#
    );
    let run = run_compositor(
        &two_gpus_mirrored(&["--no-foreign-dmabuf-imports"]),
        &script,
        &[],
    );
    let killed = std::fs::read_to_string(run.path("killed.txt")).expect("killed count");
    assert_eq!(killed.trim(), cycles.to_string());
    assert!(
        run.path("healthy.txt").is_file(),
        "the compositor still serves clients"
    );
    let after = run.json("after.json");
    assert_eq!(after["total_bytes"].as_u64(), Some(0), "{after}");
}
