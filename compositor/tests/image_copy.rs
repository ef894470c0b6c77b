//! ext-image-copy-capture through the real compositor, with the test client as the capturing
//! client: output sessions into shm and into dmabufs of either GPU hold exactly what the output
//! shows, a window's session (found through ext-foreign-toplevel-list) exactly what the output
//! shows of that window, whose buffers live on the other GPU; the pointer is drawn in only when
//! asked for (ext paint_cursors and wlr overlay_cursor); frames after the first wait for a
//! change and name exactly the squares that changed, a still screen copies nothing; a window
//! closing stops its session; 1000 sessions started and stopped leave the ledger and RSS flat;
//! a pointer cursor session captures the pointer's image alone and says where the pointer is;
//! on an output at scale 2 the pointer is drawn where it is, in the output's pixels, from an
//! image made at twice the size (not the scale-1 image stretched).

mod common;

use common::*;

const OUTPUT: &str = "320x240@0";

/// Pixels of an RGB image (`width` wide) that differ from the RGBA image `rgba`'s rectangle
/// at (`x`, `y`) of the same size.
fn differing(rgb: &[u8], width: u32, rgba: &[u8], rgba_width: u32, x: u32, y: u32) -> usize {
    rgb.chunks_exact(3)
        .enumerate()
        .filter(|(i, pixel)| {
            let (px, py) = (*i as u32 % width, *i as u32 / width);
            let at = (((py + y) * rgba_width + px + x) * 4) as usize;
            rgba.get(at..at + 3) != Some(&pixel[..])
        })
        .count()
}

/// The window list's first window: its position and size on the output.
fn window_rect(windows: &serde_json::Value) -> (u32, u32, u32, u32) {
    let window = &windows["windows"][0];
    let field = |name: &str| window[name].as_u64().unwrap_or_else(|| panic!("{windows}")) as u32;
    (field("x"), field("y"), field("width"), field("height"))
}

#[test]
fn ext_sessions_hold_what_the_output_and_the_window_show() {
    let script = r#"
WAYLAND_DISPLAY=$WAYLAND_DISPLAY-gpu1 tandem-test-client --buffers dmabuf --size 200x120 \
  --app-id captured 2> "$OUT/client.txt" & window=$!
i=0
until tandem-compositor msg windows --json | grep -q captured; do
  i=$((i+1)); [ $i -gt 100 ] && break; sleep 0.1
done
# The headless backend writes the output's own buffer every 60 frames.
sleep 2
cp "$OUT/output-0.png" "$OUT/shown.png"
tandem-compositor msg windows --json > "$OUT/windows.json"
ext="tandem-test-client --capture 1 --capture-protocol ext"
$ext --capture-out "$OUT/shm.ppm" > "$OUT/shm.txt" 2>&1
$ext --capture-into dmabuf:0 --capture-out "$OUT/own.ppm" > "$OUT/own.txt" 2>&1
WAYLAND_DISPLAY=$WAYLAND_DISPLAY-gpu1 $ext --capture-into dmabuf:0 \
  --capture-out "$OUT/other.ppm" > "$OUT/other.txt" 2>&1
$ext --capture-toplevel captured --capture-out "$OUT/window-shm.ppm" \
  > "$OUT/window-shm.txt" 2>&1
WAYLAND_DISPLAY=$WAYLAND_DISPLAY-gpu1 $ext --capture-toplevel captured --capture-into dmabuf:0 \
  --capture-out "$OUT/window-other.ppm" > "$OUT/window-other.txt" 2>&1
$ext --capture-cursor --capture-out "$OUT/cursor-ext.ppm" > "$OUT/cursor-ext.txt" 2>&1
tandem-test-client --capture 1 --capture-cursor --capture-out "$OUT/cursor-wlr.ppm" \
  > "$OUT/cursor-wlr.txt" 2>&1
# A window's session stops when the window goes.
tandem-test-client --capture-protocol ext --capture-toplevel captured --capture 100000 \
  > "$OUT/stopped.txt" 2>&1 & watcher=$!
sleep 1
kill $window; wait $window
wait $watcher; echo $? >> "$OUT/stopped.txt"
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
    let (shown, width) = read_png(&run.path("shown.png"));
    for name in ["shm", "own", "other"] {
        let (captured, captured_width) = read_ppm(&run.path(&format!("{name}.ppm")));
        assert_eq!(
            captured_width,
            width,
            "{name}: {}",
            log(&format!("{name}.txt"))
        );
        let off = differing(&captured, captured_width, &shown, width, 0, 0);
        assert_eq!(off, 0, "{name}: {off} pixels differ from the output");
    }
    let (x, y, w, h) = window_rect(&run.json("windows.json"));
    assert_eq!((w, h), (200, 120));
    for name in ["window-shm", "window-other"] {
        let (captured, captured_width) = read_ppm(&run.path(&format!("{name}.ppm")));
        assert_eq!(
            (captured_width, captured.len() as u32),
            (w, w * h * 3),
            "{name}: {}",
            log(&format!("{name}.txt"))
        );
        let off = differing(&captured, captured_width, &shown, width, x, y);
        assert_eq!(
            off, 0,
            "{name}: {off} pixels differ from the window as the output shows it"
        );
    }
    // The pointer rests at the output's top-left corner; only there do the captures that
    // asked for it differ from the one that did not.
    let (plain, _) = read_ppm(&run.path("shm.ppm"));
    for name in ["cursor-ext", "cursor-wlr"] {
        let (with_cursor, _) = read_ppm(&run.path(&format!("{name}.ppm")));
        assert_eq!(
            with_cursor.len(),
            plain.len(),
            "{name}: {}",
            log(&format!("{name}.txt"))
        );
        let changed: Vec<(u32, u32)> = with_cursor
            .chunks_exact(3)
            .zip(plain.chunks_exact(3))
            .enumerate()
            .filter(|(_, (a, b))| a != b)
            .map(|(i, _)| (i as u32 % width, i as u32 / width))
            .collect();
        assert!(
            changed.len() > 20,
            "{name}: the pointer drew {} pixels",
            changed.len()
        );
        assert!(
            changed.iter().all(|&(px, py)| px < 64 && py < 64),
            "{name}: pixels changed away from the pointer: {:?}",
            changed.iter().find(|&&(px, py)| px >= 64 || py >= 64)
        );
    }
    let stopped = log("stopped.txt");
    assert!(
        stopped.contains("the capture session stopped") || stopped.contains("Failed(2)"),
        "the window's session did not stop with the window: {stopped}"
    );
}

/// Frames after a session's first wait for a change and report exactly the squares that
/// changed; a still screen copies nothing; 1000 sessions started and stopped, into shm and into
/// the other GPU's dmabufs, leave the ledger as it was and RSS flat (measured after a first
/// round of the same, which warms up every path a capture can take).
#[test]
fn ext_damage_is_exact_and_sessions_leave_nothing() {
    let script = r#"
WAYLAND_DISPLAY=$WAYLAND_DISPLAY-gpu1 tandem-test-client --buffers dmabuf --size 100x100 \
  --frames 1000000 2> "$OUT/client.txt" & animated=$!
i=0
until tandem-compositor msg windows --json | grep -q app_id; do
  i=$((i+1)); [ $i -gt 100 ] && break; sleep 0.1
done
sleep 1
tandem-compositor msg windows --json > "$OUT/windows.json"
tandem-test-client --capture 5 --capture-protocol ext > "$OUT/moving.txt" 2>&1
kill $animated; wait $animated
sleep 1
tandem-compositor msg outputs --json > "$OUT/still-before.json"
tandem-test-client --capture 3 --capture-protocol ext --capture-wait 1 > "$OUT/still.txt" 2>&1
tandem-compositor msg outputs --json > "$OUT/still-after.json"
many="tandem-test-client --capture-protocol ext --capture-new-sessions --capture-new-buffers"
rounds() {
  $many --capture 500 > "$OUT/many-shm.txt" 2>&1
  WAYLAND_DISPLAY=$WAYLAND_DISPLAY-gpu1 $many --capture 500 --capture-into dmabuf:0 \
    > "$OUT/many-dmabuf.txt" 2>&1
  # Captures that copy no frame draw the scene instead: those paths warm up too.
  tandem-test-client --capture 5 --capture-region 0,0,100,100 > /dev/null 2>&1
  WAYLAND_DISPLAY=$WAYLAND_DISPLAY-gpu1 tandem-test-client --capture 5 \
    --capture-region 0,0,100,100 --capture-into dmabuf:0 > /dev/null 2>&1
  sleep 1.5
}
rounds
tandem-compositor msg vram --json > "$OUT/before.json"
grep Rss /proc/$PPID/status > "$OUT/rss-before.txt"
rounds
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
    let moving = log("moving.txt");
    assert!(moving.contains("captured 5 times"), "{moving}");
    let damage: Vec<(u32, u32, u32, u32)> = moving
        .split("damage [")
        .nth(1)
        .unwrap_or_default()
        .split(')')
        .filter_map(|rect| {
            let numbers: Vec<u32> = rect
                .split(|c: char| !c.is_ascii_digit())
                .filter_map(|n| n.parse().ok())
                .collect();
            (numbers.len() == 4).then(|| (numbers[0], numbers[1], numbers[2], numbers[3]))
        })
        .collect();
    let (x, y, w, h) = window_rect(&run.json("windows.json"));
    assert!(
        !damage.is_empty(),
        "the fifth frame named no damage: {moving}"
    );
    let area: u32 = damage.iter().map(|d| d.2 * d.3).sum();
    for d in &damage {
        assert!(
            d.0 >= x && d.1 >= y && d.0 + d.2 <= x + w && d.1 + d.3 <= y + h,
            "damage {d:?} outside the window at {x},{y} {w}x{h}: {moving}"
        );
    }
    assert!(
        area < w * h / 2,
        "the fifth frame's damage covers {area} pixels, the moving squares far fewer: {moving}"
    );
    let still = log("still.txt");
    assert!(
        still.contains("Waiting"),
        "a still screen's second frame: {still}"
    );
    let served = |name: &str| -> (u64, u64) {
        let outputs = run.json(name);
        let output = &outputs["outputs"][0];
        (
            output["captured_frames"]
                .as_u64()
                .unwrap_or_else(|| panic!("{outputs}")),
            output["captured_bytes"].as_u64().unwrap_or(0),
        )
    };
    let (before, after) = (served("still-before.json"), served("still-after.json"));
    assert_eq!(
        (after.0 - before.0, after.1 - before.1),
        (1, 320 * 240 * 4),
        "a still screen: the first frame copied, the next waited"
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
        "the ledger after 1000 capture sessions"
    );
    let (rss_before, rss_after) = (
        Rss::read(&run, "rss-before.txt"),
        Rss::read(&run, "rss-after.txt"),
    );
    println!("RSS {rss_before:?} KiB before 1000 capture sessions, {rss_after:?} KiB after");
    assert!(
        rss_after.held() < rss_before.held() + 4 * 1024,
        "RSS grew from {rss_before:?} to {rss_after:?} KiB over 1000 capture sessions"
    );
}

/// A pointer cursor session's capture session copies the pointer's image alone (its size, with
/// transparency around the arrow), the same into shm and into dmabufs of either GPU, and tells
/// where the pointer is over the output (it rests at the top-left corner) and its hotspot; its
/// second frame waits while the image stays as it was.
#[test]
fn ext_pointer_sessions_capture_the_pointer_image_alone() {
    let script = r#"
pointer="tandem-test-client --capture 1 --capture-pointer"
$pointer > "$OUT/shm.txt" 2>&1
$pointer --capture-into dmabuf:0 > "$OUT/own-gpu.txt" 2>&1
WAYLAND_DISPLAY=$WAYLAND_DISPLAY-gpu1 $pointer --capture-into dmabuf:0 > "$OUT/other-gpu.txt" 2>&1
tandem-test-client --capture 2 --capture-pointer --capture-wait 1 > "$OUT/second.txt" 2>&1
tandem-test-client --capture 1 --capture-protocol ext --capture-out "$OUT/plain.ppm" > /dev/null 2>&1
tandem-test-client --capture 1 --capture-protocol ext --capture-cursor \
  --capture-out "$OUT/drawn-in.ppm" > /dev/null 2>&1
sleep 1.5
tandem-compositor msg vram --json > "$OUT/vram.json"
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
    // "pointer: entered 1, left 0, position Some((0, 0)), hotspot Some((4, 4)), opaque pixels
    // 228 of 576"
    let numbers = |name: &str| -> Vec<u32> {
        let text = log(name);
        let line = text
            .lines()
            .find(|line| line.starts_with("pointer:"))
            .unwrap_or_else(|| panic!("{name}: {text}"));
        line.split(|c: char| !c.is_ascii_digit())
            .filter_map(|n| n.parse().ok())
            .collect()
    };
    let shm = numbers("shm.txt");
    assert_eq!(shm.len(), 8, "{}", log("shm.txt"));
    let (entered, left, position, hotspot, opaque, total) = (
        shm[0],
        shm[1],
        (shm[2], shm[3]),
        (shm[4], shm[5]),
        shm[6],
        shm[7],
    );
    assert_eq!(
        (entered, left, position),
        (1, 0, (0, 0)),
        "the pointer rests at the output's top-left corner: {}",
        log("shm.txt")
    );
    let size: Vec<u32> = log("shm.txt")
        .split("times: ")
        .nth(1)
        .and_then(|rest| rest.split(',').next())
        .map(|size| size.split('x').filter_map(|n| n.parse().ok()).collect())
        .unwrap_or_default();
    assert!(
        size.len() == 2 && size.iter().all(|n| (8..=256).contains(n)) && size[0] * size[1] == total,
        "a pointer image's size: {}",
        log("shm.txt")
    );
    assert!(
        hotspot.0 < size[0] && hotspot.1 < size[1],
        "the hotspot lies in the image: {}",
        log("shm.txt")
    );
    assert!(
        opaque > 0 && opaque < total,
        "the arrow is opaque, around it transparent: {}",
        log("shm.txt")
    );
    for name in ["own-gpu.txt", "other-gpu.txt"] {
        assert_eq!(numbers(name), shm, "{name} against shm: {}", log(name));
    }
    assert!(
        log("second.txt").contains("Waiting"),
        "a second frame of an unchanged pointer waits: {}",
        log("second.txt")
    );
    // The pointer drawn into the output shows the part of the image right and below the hotspot.
    let (plain, _) = read_ppm(&run.path("plain.ppm"));
    let (drawn_in, _) = read_ppm(&run.path("drawn-in.ppm"));
    let changed = plain
        .chunks_exact(3)
        .zip(drawn_in.chunks_exact(3))
        .filter(|(a, b)| a != b)
        .count() as u32;
    assert!(
        changed > 0 && changed <= opaque,
        "the pointer drawn in changed {changed} pixels, its image has {opaque} opaque"
    );
    let vram = run.json("vram.json");
    let held: u64 = vram["clients"]
        .as_array()
        .map(|clients| clients.iter().filter_map(|c| c["bytes"].as_u64()).sum())
        .unwrap_or(0);
    assert_eq!(held, 0, "capture buffers left behind: {vram}");
}

#[test]
fn the_pointer_is_drawn_where_it_is_on_an_output_at_scale_2() {
    require("wlr-randr", "wlr-randr");
    let script = r#"
wlr-randr --output HEADLESS-1 --scale 2
sleep 0.5
tandem-test-client --pointer-to 100,100 --size 320x240
sleep 0.5
tandem-test-client --capture 1 --capture-protocol ext --capture-out "$OUT/plain.ppm" > /dev/null 2>&1
tandem-test-client --capture 1 --capture-protocol ext --capture-cursor \
  --capture-out "$OUT/drawn-in.ppm" > /dev/null 2>&1
tandem-compositor msg quit
"#;
    let run = run_compositor(&ONE_GPU_640X480, script, &[]);
    let (plain, width) = read_ppm(&run.path("plain.ppm"));
    let (drawn_in, _) = read_ppm(&run.path("drawn-in.ppm"));
    assert_eq!(
        width, 640,
        "the output's own pixels\nstderr:\n{}",
        run.stderr
    );
    let drawn = changed_box(&plain, &drawn_in, width);
    let (left, top) = (drawn.map(|b| b.0), drawn.map(|b| b.1));
    // The pointer is at (100, 100) of a 320x240 desktop: pixel (200, 200) of the output; the
    // arrow's tip (its hotspot) is drawn there.
    assert!(
        left.is_some_and(|x| (185..=200).contains(&x))
            && top.is_some_and(|y| (185..=200).contains(&y)),
        "the pointer drawn from ({left:?}, {top:?}), expected just above and left of (200, 200)"
    );
}

/// The bounding box (left, top, right, bottom) of the pixels that differ between two captures.
fn changed_box(plain: &[u8], drawn: &[u8], width: u32) -> Option<(u32, u32, u32, u32)> {
    let changed: Vec<(u32, u32)> = plain
        .chunks_exact(3)
        .zip(drawn.chunks_exact(3))
        .enumerate()
        .filter(|(_, (a, b))| a != b)
        .map(|(i, _)| (i as u32 % width, i as u32 / width))
        .collect();
    Some((
        changed.iter().map(|p| p.0).min()?,
        changed.iter().map(|p| p.1).min()?,
        changed.iter().map(|p| p.0).max()?,
        changed.iter().map(|p| p.1).max()?,
    ))
}

/// Bytes of the compositor's textures uploaded from its own memory (the pointer's images).
fn memory_texture_bytes(run: &Run, name: &str) -> u64 {
    let vram = run.json(name);
    vram["compositor"]
        .as_array()
        .map(|all| {
            all.iter()
                .filter(|c| c["purpose"] == "memory texture")
                .filter_map(|c| c["bytes"].as_u64())
                .sum()
        })
        .unwrap_or(0)
}

#[test]
fn at_scale_2_the_pointer_is_drawn_twice_as_large_from_an_image_made_at_that_size() {
    require("wlr-randr", "wlr-randr");
    let script = r#"
tandem-test-client --pointer-to 200,200 --size 640x480
sleep 0.5
tandem-test-client --capture 1 --capture-protocol ext --capture-out "$OUT/plain-1.ppm" > /dev/null 2>&1
tandem-test-client --capture 1 --capture-protocol ext --capture-cursor --capture-out "$OUT/drawn-1.ppm" > /dev/null 2>&1
tandem-compositor msg vram --json > "$OUT/vram-1.json"
wlr-randr --output HEADLESS-1 --scale 2
sleep 0.5
tandem-test-client --pointer-to 100,100 --size 320x240
sleep 0.5
tandem-test-client --capture 1 --capture-protocol ext --capture-out "$OUT/plain-2.ppm" > /dev/null 2>&1
tandem-test-client --capture 1 --capture-protocol ext --capture-cursor --capture-out "$OUT/drawn-2.ppm" > /dev/null 2>&1
tandem-compositor msg vram --json > "$OUT/vram-2.json"
tandem-compositor msg quit
"#;
    let run = run_compositor(&ONE_GPU_640X480, script, &[]);
    let boxes: Vec<(u32, u32, u32, u32)> = ["1", "2"]
        .iter()
        .map(|scale| {
            let (plain, width) = read_ppm(&run.path(&format!("plain-{scale}.ppm")));
            let (drawn, _) = read_ppm(&run.path(&format!("drawn-{scale}.ppm")));
            changed_box(&plain, &drawn, width).unwrap_or_else(|| {
                panic!("no pointer drawn at scale {scale}\nstderr:\n{}", run.stderr)
            })
        })
        .collect();
    let size = |(l, t, r, b): (u32, u32, u32, u32)| (r - l + 1, b - t + 1);
    let (one, two) = (size(boxes[0]), size(boxes[1]));
    assert!(
        two.0.abs_diff(one.0 * 2) <= 2 && two.1.abs_diff(one.1 * 2) <= 2,
        "the pointer keeps its size in logical pixels: {one:?} at scale 1, {two:?} at scale 2"
    );
    for (scale, (left, top, _, _)) in [(1, boxes[0]), (2, boxes[1])] {
        assert!(
            (180..=200).contains(&left) && (180..=200).contains(&top),
            "at scale {scale} the image's hotspot is at the pointer, pixel (200, 200): drawn from ({left}, {top})"
        );
    }
    let (before, after) = (
        memory_texture_bytes(&run, "vram-1.json"),
        memory_texture_bytes(&run, "vram-2.json"),
    );
    assert!(before > 0, "the scale-1 image is counted: {before} bytes");
    assert!(
        after >= before * 5,
        "a second image, four times the first, was made for scale 2: {before} then {after} bytes"
    );
}
