//! Screen capture through the real compositor: grim (wlr-screencopy, shm) captures an output
//! showing a window whose buffers live on another GPU (GPU 0 refusing foreign dmabufs, so the
//! window is copied every frame), and its PNG matches the output's own buffer (the headless
//! backend's screenshot of what it drew) and `msg screenshot` pixel for pixel, whole and for a
//! region; the test client's screencopy mode captures into a dmabuf
//! of each GPU. What captures keep is counted in the ledger and released with their output (or
//! a second after the last capture); 1000 capture frames leave the ledger and RSS flat.

mod common;

use common::*;

const OUTPUT: &str = "320x240@0";

/// The RGB of pixel (x, y) of an RGBA image `width` wide.
fn rgb(pixels: &[u8], width: u32, x: u32, y: u32) -> [u8; 3] {
    let at = ((y * width + x) * 4) as usize;
    [pixels[at], pixels[at + 1], pixels[at + 2]]
}

#[test]
fn grim_sees_what_the_compositor_shows() {
    require("grim", "grim");
    let script = r#"
WAYLAND_DISPLAY=$WAYLAND_DISPLAY-gpu1 tandem-test-client --buffers dmabuf --size 200x120 \
  2> "$OUT/client.txt" & pid=$!
i=0
until tandem-compositor msg windows --json | grep -q app_id; do
  i=$((i+1)); [ $i -gt 100 ] && break; sleep 0.1
done
# The headless backend writes the output's own buffer every 60 frames.
sleep 2
cp "$OUT/output-0.png" "$OUT/shown.png"
grim "$OUT/grim.png" 2> "$OUT/grim.txt"
grim -g "10,20 100x50" "$OUT/grim-region.png" 2>> "$OUT/grim.txt"
tandem-compositor msg screenshot "$OUT/msg.png" > "$OUT/msg.txt"
tandem-compositor msg vram --json > "$OUT/during.json"
kill $pid; wait $pid
tandem-compositor msg output-remove --output "$(tandem-compositor msg outputs --json | sed -n 's/.*"name": "\([^"]*\)".*/\1/p' | head -n 1)"
tandem-compositor msg vram --json > "$OUT/after.json"
tandem-compositor msg quit
"#;
    let run = run_compositor(
        &[
            "--backend",
            "headless",
            "--gpus",
            "2",
            "--output",
            OUTPUT,
            "--no-foreign-dmabuf-imports",
        ],
        script,
        &[],
    );
    let log = |name: &str| std::fs::read_to_string(run.path(name)).unwrap_or_default();
    assert!(
        run.path("grim.png").exists(),
        "grim wrote nothing: {}\n{}",
        log("grim.txt"),
        run.stderr
    );
    let (grim, grim_width) = read_png(&run.path("grim.png"));
    let (shown, shown_width) = read_png(&run.path("msg.png"));
    assert_eq!(
        (grim_width, grim.len()),
        (shown_width, shown.len()),
        "{}",
        log("msg.txt")
    );
    let differing = grim
        .chunks_exact(4)
        .zip(shown.chunks_exact(4))
        .filter(|(a, b)| a[..3] != b[..3])
        .count();
    assert_eq!(
        differing, 0,
        "grim and msg screenshot differ in {differing} pixels"
    );
    let (output, _) = read_png(&run.path("shown.png"));
    let differing = grim
        .chunks_exact(4)
        .zip(output.chunks_exact(4))
        .filter(|(a, b)| a[..3] != b[..3])
        .count();
    assert_eq!(
        differing, 0,
        "grim and the output's own buffer differ in {differing} pixels"
    );
    let window = shown
        .chunks_exact(4)
        .filter(|p| p[..3] != shown[..3])
        .count();
    assert!(
        window > 10_000,
        "the window is in the capture: {window} pixels"
    );
    let (region, region_width) = read_png(&run.path("grim-region.png"));
    assert_eq!((region_width, region.len()), (100, 100 * 50 * 4));
    for (x, y) in [(0, 0), (50, 25), (99, 49)] {
        assert_eq!(
            rgb(&region, 100, x, y),
            rgb(&shown, shown_width, x + 10, y + 20),
            "region pixel ({x}, {y})"
        );
    }
    let capture_bytes = |name: &str| -> u64 {
        let vram = run.json(name);
        vram["compositor"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|entry| entry["purpose"] == "screen capture")
            .filter_map(|entry| entry["bytes"].as_u64())
            .sum()
    };
    assert_eq!(
        capture_bytes("during.json"),
        320 * 240 * 4,
        "the kept capture buffer"
    );
    assert_eq!(capture_bytes("after.json"), 0, "released with its output");
}

/// wf-recorder records a screencast with `copy_with_damage`: while the screen is still, no copy
/// is made (0 bytes a frame); while a window commits 16x16 squares, each copy writes about what
/// changed into the client's buffers (it takes turns with 16), far less than whole frames.
#[test]
fn a_screencast_copies_only_what_changed() {
    require("wf-recorder", "wf-recorder");
    let script = r#"
WAYLAND_DISPLAY=$WAYLAND_DISPLAY-gpu1 tandem-test-client --buffers dmabuf --size 200x120 \
  2> "$OUT/client.txt" &
i=0
until tandem-compositor msg windows --json | grep -q app_id; do
  i=$((i+1)); [ $i -gt 100 ] && break; sleep 0.1
done
wf-recorder -f "$OUT/cast.mp4" > "$OUT/wf.txt" 2>&1 & recorder=$!
sleep 1.5
tandem-compositor msg outputs --json > "$OUT/first.json"
sleep 2
tandem-compositor msg outputs --json > "$OUT/still.json"
tandem-test-client --size 64x64 --frames 40 2> "$OUT/mover.txt" &
sleep 3
tandem-compositor msg outputs --json > "$OUT/moving.json"
kill -TERM $recorder; wait $recorder; echo $? > "$OUT/wf-status.txt"
tandem-compositor msg quit
"#;
    let run = run_compositor(
        &["--backend", "headless", "--gpus", "2", "--output", OUTPUT],
        script,
        &[],
    );
    let served = |name: &str| {
        let outputs = run.json(name);
        let output = &outputs["outputs"][0];
        (
            output["captured_frames"].as_u64().unwrap_or(0),
            output["captured_bytes"].as_u64().unwrap_or(0),
        )
    };
    let whole_frame = 320 * 240 * 4;
    let (first, still, moving) = (
        served("first.json"),
        served("still.json"),
        served("moving.json"),
    );
    let wf = std::fs::read_to_string(run.path("wf.txt")).unwrap_or_default();
    assert!(first.0 >= 1, "wf-recorder's first copy: {first:?}\n{wf}");
    assert_eq!(still, first, "a still screen: no copy, 0 bytes");
    let (frames, bytes) = (moving.0 - still.0, moving.1 - still.1);
    println!(
        "first copy {first:?}; still screen 2 s: {} copies; moving 3 s: {frames} copies, {bytes} bytes ({} a copy, whole frame {whole_frame})",
        still.0 - first.0,
        bytes / frames.max(1)
    );
    assert!(frames >= 10, "copies while a window moves: {frames}\n{wf}");
    // The mover's window appears whole once, then 16x16 squares: each buffer's first use is
    // written whole (16 buffers), the rest only what changed since it was written.
    assert!(
        bytes < frames * whole_frame / 2,
        "{bytes} bytes for {frames} copies of {whole_frame}-byte frames"
    );
    let status = std::fs::read_to_string(run.path("wf-status.txt")).unwrap_or_default();
    assert!(
        std::fs::metadata(run.path("cast.mp4")).is_ok_and(|m| m.len() > 0),
        "wf-recorder wrote its file (status {status}): {wf}"
    );
}

/// Captures into a dmabuf of the output's render GPU (drawn into directly), into a dmabuf of the
/// other GPU (through Tandem's intermediate and, with no foreign imports, a CPU copy) and into
/// shm all hold what the output shows; 1000 capture frames with a new buffer each leave the
/// ledger as it was and the compositor's RSS flat.
#[test]
fn captures_into_either_gpu_match_the_output_and_leave_nothing() {
    let script = r#"
WAYLAND_DISPLAY=$WAYLAND_DISPLAY-gpu1 tandem-test-client --buffers dmabuf --size 200x120 \
  2> "$OUT/client.txt" &
i=0
until tandem-compositor msg windows --json | grep -q app_id; do
  i=$((i+1)); [ $i -gt 100 ] && break; sleep 0.1
done
sleep 2
cp "$OUT/output-0.png" "$OUT/shown.png"
tandem-compositor msg outputs --json > "$OUT/outputs-before.json"
tandem-test-client --capture 1 --capture-into dmabuf:0 --capture-out "$OUT/own.ppm" \
  --capture-hold 2 > "$OUT/own.txt" 2>&1 & holder=$!
sleep 1
tandem-compositor msg vram --json > "$OUT/held.json"
wait $holder
sleep 0.5
tandem-compositor msg vram --json > "$OUT/let-go.json"
WAYLAND_DISPLAY=$WAYLAND_DISPLAY-gpu1 tandem-test-client --capture 1 --capture-into dmabuf:0 \
  --capture-out "$OUT/other.ppm" > "$OUT/other.txt" 2>&1
tandem-test-client --capture 1 --capture-out "$OUT/shm.ppm" > "$OUT/shm.txt" 2>&1
tandem-compositor msg outputs --json > "$OUT/outputs-after.json"
# Warm up, then measure 1000 more frames, half into the other GPU's dmabufs.
tandem-test-client --capture 50 --capture-new-buffers > /dev/null 2>&1
WAYLAND_DISPLAY=$WAYLAND_DISPLAY-gpu1 tandem-test-client --capture 50 --capture-new-buffers \
  --capture-into dmabuf:0 > /dev/null 2>&1
# The kept capture buffer goes a second after the last capture that used it.
sleep 1.5
tandem-compositor msg vram --json > "$OUT/before.json"
grep Rss /proc/$PPID/status > "$OUT/rss-before.txt"
tandem-test-client --capture 500 --capture-new-buffers > "$OUT/many-shm.txt" 2>&1
WAYLAND_DISPLAY=$WAYLAND_DISPLAY-gpu1 tandem-test-client --capture 500 --capture-new-buffers \
  --capture-into dmabuf:0 > "$OUT/many-dmabuf.txt" 2>&1
sleep 1.5
tandem-compositor msg vram --json > "$OUT/after.json"
grep Rss /proc/$PPID/status > "$OUT/rss-after.txt"
tandem-compositor msg quit
"#;
    let run = run_compositor(
        &[
            "--backend",
            "headless",
            "--gpus",
            "2",
            "--output",
            OUTPUT,
            "--no-foreign-dmabuf-imports",
        ],
        script,
        &[FIXED_MMAP_THRESHOLD],
    );
    let log = |name: &str| std::fs::read_to_string(run.path(name)).unwrap_or_default();
    let (shown, width) = read_png(&run.path("shown.png"));
    for name in ["own", "other", "shm"] {
        let (captured, captured_width) = read_ppm(&run.path(&format!("{name}.ppm")));
        assert_eq!(
            captured_width,
            width,
            "{name}: {}",
            log(&format!("{name}.txt"))
        );
        let differing = captured
            .chunks_exact(3)
            .zip(shown.chunks_exact(4))
            .filter(|(a, b)| a[..] != b[..3])
            .count();
        assert_eq!(
            differing, 0,
            "{name}: {differing} pixels differ from the output"
        );
    }
    let from_frame = |name: &str| run.json(name)["outputs"][0]["captured_from_frame"].as_u64();
    assert_eq!(
        from_frame("outputs-after.json")
            .zip(from_frame("outputs-before.json"))
            .map(|(a, b)| a - b),
        Some(3),
        "the three whole-output captures are copied from the output's frame, not drawn again"
    );
    // The render GPU's own dmabuf is bound by that GPU while its client holds it: counted for
    // that client as a capture buffer, and released once the client is gone. (The other GPU's
    // dmabuf is written through its mapping here: no GPU can reach both buffers.)
    let capture_held = |name: &str| -> Vec<u64> {
        run.json(name)["clients"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|client| client["kinds"]["capture_buffer"]["bytes"].as_u64())
            .collect()
    };
    assert_eq!(
        capture_held("held.json"),
        vec![320 * 240 * 4],
        "the capturing client's buffer, while it holds it"
    );
    assert_eq!(
        capture_held("let-go.json"),
        Vec::<u64>::new(),
        "nothing once it is gone"
    );
    for name in ["many-shm.txt", "many-dmabuf.txt"] {
        assert!(
            log(name).contains("captured 500 times"),
            "{name}: {}",
            log(name)
        );
    }
    let (before, after) = (run.json("before.json"), run.json("after.json"));
    assert_eq!(
        before["total_bytes"], after["total_bytes"],
        "the ledger after 1000 capture frames"
    );
    let (rss_before, rss_after) = (
        Rss::read(&run, "rss-before.txt"),
        Rss::read(&run, "rss-after.txt"),
    );
    println!("RSS {rss_before:?} KiB before 1000 capture frames, {rss_after:?} KiB after");
    assert!(
        rss_after.held() < rss_before.held() + 4 * 1024,
        "RSS grew from {rss_before:?} to {rss_after:?} KiB over 1000 capture frames"
    );
}

/// An output whose GPU went away (`msg gpu-remove`) is drawn by the GPU left, into the buffer
/// it kept: grim still captures every output, each copied from its frame as drawn.
#[test]
fn grim_captures_outputs_whose_gpu_went_away() {
    require("grim", "grim");
    let script = r#"
tandem-compositor msg gpu-remove --gpu soft1 > "$OUT/remove.txt"
sleep 1
grim "$OUT/grim.png" 2> "$OUT/grim.txt"; echo $? > "$OUT/grim-status.txt"
tandem-compositor msg outputs --json > "$OUT/outputs.json"
tandem-compositor msg quit
"#;
    let run = run_compositor(
        &[
            "--backend",
            "headless",
            "--gpus",
            "2",
            "--output",
            OUTPUT,
            "--output",
            "320x240@1",
        ],
        script,
        &[],
    );
    let log = |name: &str| std::fs::read_to_string(run.path(name)).unwrap_or_default();
    assert_eq!(
        log("grim-status.txt").trim(),
        "0",
        "grim after the GPU went: {}\n{}",
        log("grim.txt"),
        run.stderr
    );
    let (grim, width) = read_png(&run.path("grim.png"));
    assert_eq!((width, grim.len()), (640, 640 * 240 * 4), "both outputs");
    let outputs = run.json("outputs.json");
    let from_frame: Vec<u64> = outputs["outputs"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|output| output["captured_from_frame"].as_u64())
        .collect();
    assert_eq!(from_frame, vec![1, 1], "each output copied from its frame");
}
