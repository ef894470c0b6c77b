//! Fractional scale through a real client: a window that follows wp_fractional_scale_v1 and
//! sizes its buffer back with viewporter is told its output's scale (1.5 from the configuration
//! file, then 2 set by wlr-randr) and is drawn with one buffer pixel per output pixel: its
//! logical 200x150 cover 300x225 and then 400x300 pixels of the output's screenshot.

mod common;

use common::*;

const WINDOW: [u8; 3] = [0xe0, 0x30, 0x20];

/// Pixels of `path` within 8 per channel of `rgb`.
fn coloured(path: &std::path::Path, rgb: [u8; 3]) -> usize {
    let (pixels, _) = read_png(path);
    pixels
        .chunks_exact(4)
        .filter(|p| p[..3].iter().zip(rgb).all(|(a, b)| a.abs_diff(b) <= 8))
        .count()
}

#[test]
fn a_fractionally_scaled_window_is_drawn_at_its_outputs_scale() {
    require("wlr-randr", "wlr-randr");
    let config = tempfile::NamedTempFile::new().expect("config file");
    std::fs::write(config.path(), "[outputs.HEADLESS-1]\nscale = 1.5\n").expect("config");
    let script = r#"
tandem-test-client --fractional-scale 6 --size 200x150 --colour ffe03020 > "$OUT/client.txt" 2>&1 & window=$!
i=0; until grep -q "scale 1.5" "$OUT/client.txt"; do i=$((i+1)); [ $i -gt 100 ] && break; sleep 0.1; done
sleep 0.5
tandem-compositor msg screenshot --output HEADLESS-1 "$OUT/scale-1.5.png"
wlr-randr --output HEADLESS-1 --scale 2 > "$OUT/randr.txt" 2>&1
i=0; until grep -q "scale 2 " "$OUT/client.txt"; do i=$((i+1)); [ $i -gt 100 ] && break; sleep 0.1; done
sleep 0.5
tandem-compositor msg screenshot --output HEADLESS-1 "$OUT/scale-2.png"
kill $window
tandem-compositor msg quit
"#;
    let config_path = config.path().to_string_lossy().into_owned();
    let run = run_compositor(
        &[
            "--backend",
            "headless",
            "--gpus",
            "1",
            "--output",
            "960x720",
            "--config",
            &config_path,
        ],
        script,
        &[],
    );
    let told = std::fs::read_to_string(run.path("client.txt")).unwrap_or_default();
    let lines: Vec<&str> = told.lines().collect();
    assert_eq!(
        lines,
        ["scale 1.5 buffer 300x225", "scale 2 buffer 400x300"],
        "the window is told its output's scale, then the new one"
    );
    let at_1_5 = coloured(&run.path("scale-1.5.png"), WINDOW);
    let at_2 = coloured(&run.path("scale-2.png"), WINDOW);
    // One buffer pixel per output pixel: the window covers its buffer's size (the edges may
    // blend where its position falls between pixels).
    assert!(
        (300 * 225 * 95 / 100..=300 * 225).contains(&at_1_5),
        "at scale 1.5 the 300x225 buffer covers {at_1_5} pixels"
    );
    assert!(
        (400 * 300 * 95 / 100..=400 * 300).contains(&at_2),
        "at scale 2 the 400x300 buffer covers {at_2} pixels"
    );
}
