//! Client buffers of every carried format through the real compositor: windows of GPU 1's
//! socket (10-bit, half float, RGB565 and YUV, in memfd dmabufs) shown on both mirrored
//! outputs, GPU 0 refusing foreign dmabufs so every frame is copied (YUV that llvmpipe cannot
//! sample is converted on the CPU); the screenshots of both outputs hold the pattern the client
//! painted. `msg gpus` lists what each GPU offers (on llvmpipe, everything) and how mapped
//! reads are chosen. Nothing stays in the ledger.

mod common;

use common::*;
use tandem_test_client::formats;

const FORMATS: [&str; 8] = [
    "XR30", "AB30", "AB4H", "RG16", "YUYV", "NV12", "P010", "YU12",
];
const SIZE: (u32, u32) = (512, 64);

#[test]
fn every_offered_format_shows_on_both_gpus() {
    let script = format!(
        r#"
tandem-compositor msg gpus --json > "$OUT/gpus.json"
tandem-compositor msg gpus > "$OUT/gpus.txt"
for f in {formats}; do
  WAYLAND_DISPLAY=$WAYLAND_DISPLAY-gpu1 tandem-test-client --buffers dmabuf --format $f \
    --size {w}x{h} 2> "$OUT/$f-client.txt" & pid=$!
  i=0
  until tandem-compositor msg windows --json | grep -q app_id; do
    i=$((i+1)); [ $i -gt 100 ] && break; sleep 0.1
  done
  # The headless backend writes its screenshots every 60 frames.
  sleep 2.5
  tandem-compositor msg windows --json > "$OUT/$f-windows.json"
  cp "$OUT/output-0.png" "$OUT/$f-0.png"; cp "$OUT/output-1.png" "$OUT/$f-1.png"
  kill $pid; wait $pid
  i=0
  while tandem-compositor msg windows --json | grep -q app_id; do
    i=$((i+1)); [ $i -gt 100 ] && break; sleep 0.1
  done
done
sleep 0.5
tandem-compositor msg vram --json > "$OUT/after.json"
tandem-compositor msg quit
"#,
        formats = FORMATS.join(" "),
        w = SIZE.0,
        h = SIZE.1,
    );
    let run = run_compositor(
        &two_gpus_mirrored(&[
            "--no-foreign-dmabuf-imports",
            "--output",
            "640x480@0",
            "--output",
            "640x480@1",
        ]),
        &script,
        &[],
    );
    let gpus = run.json("gpus.json");
    let soft1 = gpus["gpus"]
        .as_array()
        .and_then(|gpus| gpus.iter().find(|g| g["id"] == "soft1"))
        .unwrap_or_else(|| panic!("soft1 in {gpus}"));
    let offered: Vec<&str> = soft1["offered_formats"]
        .as_array()
        .expect("offered_formats")
        .iter()
        .filter_map(|f| f.as_str())
        .collect();
    for format in FORMATS {
        assert!(
            offered.contains(&format!("{format}:linear").as_str()),
            "{format} offered: {offered:?}\n{soft1}"
        );
    }
    assert_eq!(
        soft1["refused_formats"].as_array().map(Vec::len),
        Some(0),
        "nothing refused: {soft1}"
    );
    let table = std::fs::read_to_string(run.path("gpus.txt")).expect("gpus table");
    assert!(table.contains("offered to clients: "), "{table}");
    assert!(table.contains("mapped reads: "), "{table}");
    assert!(
        table.contains("explicit sync: not offered (no DRM GPU with timeline syncobjs"),
        "software GPUs offer no explicit sync, and say so: {table}"
    );

    let mut failures = Vec::new();
    for format in FORMATS {
        let fourcc = formats::parse_fourcc(format).expect("known format");
        let windows = run.json(&format!("{format}-windows.json"));
        let window = &windows["windows"][0];
        let (Some(x), Some(y)) = (window["x"].as_u64(), window["y"].as_u64()) else {
            let client = std::fs::read_to_string(run.path(&format!("{format}-client.txt")));
            panic!(
                "{format}: no window: {windows}\nclient: {client:?}\n{}",
                run.stderr
            );
        };
        let tolerance = if formats::is_yuv(fourcc) { 8.0 } else { 3.0 };
        for output in 0..2 {
            let shot = run.path(&format!("{format}-{output}.png"));
            for (px, py) in [(5, 5), (100, 20), (260, 40), (500, 60), (380, 10)] {
                let expected = formats::expected(fourcc, SIZE.0 as i32, SIZE.1 as i32, px, py);
                let shown = pixel(&shot, x as u32 + px as u32, y as u32 + py as u32);
                let far = (0..3).any(|c| {
                    let want = (expected[c].clamp(0.0, 1.0) * 255.0).round();
                    (f32::from(shown[c]) - want).abs() > tolerance
                });
                if far {
                    failures.push(format!(
                        "{format} on output {output} at ({px}, {py}): shown {shown:?}, painted {expected:?}"
                    ));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{}\n{}",
        failures.join("\n"),
        run.stderr
    );

    assert_eq!(run.json("after.json")["total_bytes"].as_u64(), Some(0));
}
