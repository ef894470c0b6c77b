//! Output configuration through real clients (wlr-output-management): wlr-randr lists the
//! outputs and sets position, scale and a custom mode, and turns an output off and on again;
//! kanshi applies a profile. Checked through `msg outputs` and on screenshots.

mod common;

use common::*;

fn output<'a>(outputs: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    outputs["outputs"]
        .as_array()
        .and_then(|all| all.iter().find(|o| o["name"] == name))
        .unwrap_or_else(|| panic!("no {name} in {outputs}"))
}

/// Pixels of `path` within 8 per channel of `rgb`, and the image's width and height.
fn colour_box(path: &std::path::Path, rgb: [u8; 3]) -> (usize, u32, u32) {
    let (pixels, width) = read_png(path);
    let matching = pixels
        .chunks_exact(4)
        .filter(|p| p[..3].iter().zip(rgb).all(|(a, b)| a.abs_diff(b) <= 8))
        .count();
    let height = (pixels.len() / 4) as u32 / width.max(1);
    (matching, width, height)
}

#[test]
fn wlr_randr_and_kanshi_configure_the_outputs() {
    require("wlr-randr", "wlr-randr");
    require("kanshi", "kanshi");
    let script = r#"
tandem-test-client --colour ff2080e0 --size 100x80 > /dev/null 2>&1 & window=$!
i=0; until tandem-compositor msg windows --json | grep -q app_id; do
  i=$((i+1)); [ $i -gt 100 ] && break; sleep 0.1; done
sleep 0.5
tandem-compositor msg screenshot --output HEADLESS-1 "$OUT/scale-1.png"
wlr-randr > "$OUT/list.txt" 2>&1
wlr-randr --output HEADLESS-1 --scale 2 > "$OUT/set.txt" 2>&1
sleep 0.5
tandem-compositor msg screenshot --output HEADLESS-1 "$OUT/scale-2.png"
wlr-randr --output HEADLESS-1 --pos 0,600 >> "$OUT/set.txt" 2>&1
sleep 0.3
tandem-compositor msg outputs --json > "$OUT/after-set.json"
tandem-test-client --size 60x40 --app-id after-move > /dev/null 2>&1 & late=$!
i=0; until tandem-compositor msg windows --json | grep -q after-move; do
  i=$((i+1)); [ $i -gt 100 ] && break; sleep 0.1; done
tandem-compositor msg windows --json > "$OUT/after-move.json"
kill $late
wlr-randr --output HEADLESS-2 --custom-mode 800x600 > "$OUT/mode.txt" 2>&1
sleep 0.5
tandem-compositor msg outputs --json > "$OUT/after-mode.json"
tandem-compositor msg screenshot --output HEADLESS-2 "$OUT/mode.png"
wlr-randr --output HEADLESS-2 --off > "$OUT/off.txt" 2>&1
sleep 0.3
tandem-compositor msg outputs --json > "$OUT/off.json"
wlr-randr --output HEADLESS-2 --on > "$OUT/on.txt" 2>&1
sleep 0.3
tandem-compositor msg outputs --json > "$OUT/on.json"
cat > "$OUT/kanshi.conf" <<EOT
profile {
  output HEADLESS-1 position 0,0 scale 1
  output HEADLESS-2 position 640,0 mode 640x480
}
EOT
kanshi -c "$OUT/kanshi.conf" > "$OUT/kanshi.txt" 2>&1 & kanshi=$!
i=0; until tandem-compositor msg outputs --json | grep -q '"x": 640'; do
  i=$((i+1)); [ $i -gt 100 ] && break; sleep 0.1; done
tandem-compositor msg outputs --json > "$OUT/kanshi.json"
kill $kanshi $window
tandem-compositor msg quit
"#;
    let run = run_compositor(
        &[
            "--backend",
            "headless",
            "--gpus",
            "2",
            "--output",
            "640x480@0",
            "--output",
            "640x480@1",
        ],
        script,
        &[],
    );
    let log = |name: &str| std::fs::read_to_string(run.path(name)).unwrap_or_default();
    let list = log("list.txt");
    for expected in ["HEADLESS-1", "HEADLESS-2", "640x480", "Enabled: yes"] {
        assert!(
            list.contains(expected),
            "wlr-randr lists {expected}: {list}"
        );
    }
    let after = run.json("after-set.json");
    let first = output(&after, "HEADLESS-1");
    assert_eq!(
        (
            first["x"].as_i64(),
            first["y"].as_i64(),
            first["scale"].as_f64()
        ),
        (Some(0), Some(600), Some(2.0)),
        "wlr-randr --scale 2, then --pos 0,600: {first}\n{}",
        log("set.txt")
    );
    let late = run.json("after-move.json")["windows"]
        .as_array()
        .and_then(|all| all.iter().find(|w| w["app_id"] == "after-move").cloned())
        .unwrap_or_default();
    assert!(
        late["y"].as_i64() >= Some(600),
        "a window opened after the outputs moved is placed on one (HEADLESS-1 from y 600): {late}"
    );
    // The window (at the output's top-left corner, 100x80) is drawn twice as large at scale 2.
    let window = [0x20, 0x80, 0xe0];
    let (at_1, _, _) = colour_box(&run.path("scale-1.png"), window);
    let (at_2, _, _) = colour_box(&run.path("scale-2.png"), window);
    assert!(
        at_1 > 100 * 80 * 9 / 10 && at_2 > at_1 * 3,
        "the window covers {at_1} pixels at scale 1 and {at_2} at scale 2"
    );
    let moded = run.json("after-mode.json");
    let second = output(&moded, "HEADLESS-2");
    assert_eq!(
        (second["width"].as_i64(), second["height"].as_i64()),
        (Some(800), Some(600)),
        "wlr-randr --custom-mode 800x600: {second}\n{}",
        log("mode.txt")
    );
    let (_, w, h) = colour_box(&run.path("mode.png"), window);
    assert_eq!((w, h), (800, 600), "HEADLESS-2 is drawn at its new mode");
    assert_eq!(
        output(&run.json("off.json"), "HEADLESS-2")["enabled"].as_bool(),
        Some(false),
        "wlr-randr --off: {}",
        log("off.txt")
    );
    assert_eq!(
        output(&run.json("on.json"), "HEADLESS-2")["enabled"].as_bool(),
        Some(true),
        "wlr-randr --on: {}",
        log("on.txt")
    );
    let kanshi = run.json("kanshi.json");
    let (first, second) = (output(&kanshi, "HEADLESS-1"), output(&kanshi, "HEADLESS-2"));
    assert_eq!(
        (
            first["y"].as_i64(),
            first["scale"].as_f64(),
            second["x"].as_i64(),
            second["width"].as_i64()
        ),
        (Some(0), Some(1.0), Some(640), Some(640)),
        "kanshi's profile: {kanshi}\n{}",
        log("kanshi.txt")
    );
}

/// Settings follow the monitor, not the connector: a virtual monitor set to scale 2 at 1500,0
/// with wlr-randr, unplugged and plugged back under a new output name, gets them back; another
/// monitor does not; a configuration section named by monitor ("make model serial") applies to
/// whatever output shows it.
#[test]
fn settings_follow_the_monitor_to_another_output() {
    require("wlr-randr", "wlr-randr");
    let config = tempfile::NamedTempFile::new().expect("config file");
    std::fs::write(
        config.path(),
        "[outputs.\"Tandem virtual on soft0 PANEL-C\"]\nscale = 1.5\n",
    )
    .expect("config");
    let script = r#"
tandem-compositor msg output-add --gpu soft0 --size 640x480 --serial PANEL-A > "$OUT/add-a.txt"
wlr-randr --output HEADLESS-2 --scale 2 --pos 1500,0 > "$OUT/set.txt" 2>&1
sleep 0.3
wlr-randr > "$OUT/list.txt" 2>&1
tandem-compositor msg output-remove --output HEADLESS-2
tandem-compositor msg output-add --gpu soft0 --size 640x480 --serial PANEL-B > "$OUT/add-b.txt"
tandem-compositor msg output-add --gpu soft0 --size 640x480 --serial PANEL-A > "$OUT/add-a-again.txt"
tandem-compositor msg output-add --gpu soft0 --size 640x480 --serial PANEL-C > "$OUT/add-c.txt"
sleep 0.3
tandem-compositor msg outputs --json > "$OUT/outputs.json"
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
            "640x480@0",
            "--config",
            &config_path,
        ],
        script,
        &[],
    );
    let log = |name: &str| std::fs::read_to_string(run.path(name)).unwrap_or_default();
    assert!(
        log("list.txt").contains("Position: 1500,0"),
        "wlr-randr placed the monitor: {}\n{}",
        log("list.txt"),
        log("set.txt")
    );
    let names: Vec<String> = ["add-b.txt", "add-a-again.txt", "add-c.txt"]
        .iter()
        .map(|file| log(file).trim().trim_start_matches("added ").to_owned())
        .collect();
    assert_eq!(names, ["HEADLESS-3", "HEADLESS-4", "HEADLESS-5"]);
    let outputs = run.json("outputs.json");
    let settings = |name: &str| {
        let o = output(&outputs, name);
        (o["scale"].as_f64(), o["x"].as_i64(), o["serial"].clone())
    };
    let (scale, x, serial) = settings("HEADLESS-4");
    assert_eq!(
        (scale, x, serial.as_str()),
        (Some(2.0), Some(1500), Some("PANEL-A")),
        "PANEL-A plugged back as HEADLESS-4 gets its scale and place: {outputs}"
    );
    assert_eq!(
        settings("HEADLESS-3").0,
        Some(1.0),
        "another monitor keeps the default scale: {outputs}"
    );
    assert_eq!(
        settings("HEADLESS-5").0,
        Some(1.5),
        "the section named by monitor applies to its output: {outputs}"
    );
    assert_eq!(output(&outputs, "HEADLESS-5")["make"], "Tandem");
}
