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
tandem-compositor msg vram --json > "$OUT/after.json"
tandem-compositor msg quit
"#;
    let run = run_compositor(
        &[
            "--backend",
            "headless",
            "--gpus",
            "2",
            "--layout",
            "mirror",
            "--no-foreign-dmabuf-imports",
        ],
        script,
        &[],
    );
    let results = std::fs::read_to_string(run.path("hostile.txt")).expect("results");
    let cases = tandem_test_client::hostile::CASES.len();
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
