//! Screens off and on through real clients: a wlr-output-power-management client turns an
//! output off, which then draws nothing, holds no intermediate and no buffer (the ledger and the
//! process's open files show it) and lets its GPU park; turned on, it draws the window again
//! and the GPU wakes. The configuration's idle timeout turns every screen off unless a window
//! inhibits idleness; `msg power on` turns them on, a locker locks with screens off, and a power
//! object whose output goes is told `failed`.

mod common;

use common::*;

/// Open files of the compositor (the script's parent).
const COUNT_FDS: &str = r#"fds() { ls /proc/$PPID/fd | wc -l; }"#;

fn output<'a>(json: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    json["outputs"]
        .as_array()
        .and_then(|outputs| outputs.iter().find(|o| o["name"] == name))
        .unwrap_or_else(|| panic!("no output {name} in {json}"))
}

fn intermediate_bytes(vram: &serde_json::Value) -> u64 {
    vram["gpus"]
        .as_array()
        .map(|gpus| {
            gpus.iter()
                .filter_map(|gpu| gpu["kinds"]["output_intermediate"]["bytes"].as_u64())
                .sum()
        })
        .unwrap_or(0)
}

fn gpu_parked(gpus: &serde_json::Value, id: &str) -> Option<bool> {
    gpus["gpus"]
        .as_array()?
        .iter()
        .find(|gpu| gpu["id"] == id)?["parked"]
        .as_bool()
}

#[test]
fn a_screen_turned_off_holds_nothing_and_lets_its_gpu_park_until_turned_on() {
    let script = format!(
        r#"
{COUNT_FDS}
parked() {{ tandem-compositor msg gpus | grep -q '^soft1: parked'; }}
tandem-test-client --colour ffe03020 --size 200x150 > /dev/null 2>&1 & window=$!
i=0; until tandem-compositor msg windows --json | grep -q app_id; do i=$((i+1)); [ $i -gt 100 ] && break; sleep 0.1; done
sleep 1.5
tandem-compositor msg vram --json > "$OUT/vram-on.json"
tandem-compositor msg outputs --json > "$OUT/outputs-on.json"
fds > "$OUT/fds-on.txt"
tandem-test-client --output-power HEADLESS-2=off > "$OUT/power-off.txt" 2>&1
sleep 0.5
tandem-compositor msg outputs --json > "$OUT/outputs-off.json"
rm -f "$OUT/output-1.png"
i=0; until parked; do i=$((i+1)); [ $i -gt 100 ] && break; sleep 0.1; done
sleep 1
tandem-compositor msg outputs --json > "$OUT/outputs-off-later.json"
tandem-compositor msg vram --json > "$OUT/vram-off.json"
tandem-compositor msg gpus --json > "$OUT/gpus-off.json"
fds > "$OUT/fds-off.txt"
[ -e "$OUT/output-1.png" ] && echo drawn > "$OUT/drawn-while-off.txt"
tandem-test-client --output-power HEADLESS-2=on --power-hold 0.5 > "$OUT/power-on.txt" 2>&1
i=0; until [ -e "$OUT/output-1.png" ]; do i=$((i+1)); [ $i -gt 100 ] && break; sleep 0.1; done
sleep 1
cp "$OUT/output-1.png" "$OUT/back.png"
tandem-compositor msg outputs --json > "$OUT/outputs-back.json"
tandem-compositor msg gpus --json > "$OUT/gpus-back.json"
tandem-compositor msg vram --json > "$OUT/vram-back.json"
kill $window
tandem-compositor msg quit
"#
    );
    let args = two_gpus_mirrored(&["--render-gpu", "0", "--park-after", "1"]);
    let run = run_compositor(&args, &script, &[]);
    let text = |name: &str| std::fs::read_to_string(run.path(name)).unwrap_or_default();
    assert_eq!(
        text("power-off.txt").lines().collect::<Vec<_>>(),
        ["was mode on", "mode off"],
        "the power client is told the mode before and after"
    );
    let (on, off, later) = (
        run.json("outputs-on.json"),
        run.json("outputs-off.json"),
        run.json("outputs-off-later.json"),
    );
    assert_eq!(output(&on, "HEADLESS-2")["powered"], true);
    assert_eq!(output(&off, "HEADLESS-2")["powered"], false);
    assert_eq!(
        output(&off, "HEADLESS-1")["powered"],
        true,
        "the other output stays on"
    );
    assert_eq!(
        output(&off, "HEADLESS-2")["frames"],
        output(&later, "HEADLESS-2")["frames"],
        "an output that is off draws no frame"
    );
    assert!(
        output(&later, "HEADLESS-1")["frames"].as_u64()
            > output(&off, "HEADLESS-1")["frames"].as_u64(),
        "the output that is on keeps drawing"
    );
    assert!(
        !run.path("drawn-while-off.txt").exists(),
        "no screenshot of the output that is off was written"
    );
    let before = intermediate_bytes(&run.json("vram-on.json"));
    assert!(
        before > 0,
        "HEADLESS-2, drawn by soft0 for soft1, has an intermediate while on"
    );
    assert_eq!(
        intermediate_bytes(&run.json("vram-off.json")),
        0,
        "its intermediate is released while it is off"
    );
    assert_eq!(
        gpu_parked(&run.json("gpus-off.json"), "soft1"),
        Some(true),
        "soft1, whose only output is off and which has no client, parks"
    );
    let fds = |name: &str| text(name).trim().parse::<u64>().unwrap_or(0);
    assert!(
        fds("fds-off.txt") < fds("fds-on.txt"),
        "the compositor holds fewer files with the screen off: {} vs {} on",
        fds("fds-off.txt"),
        fds("fds-on.txt")
    );
    assert_eq!(
        text("power-on.txt").lines().collect::<Vec<_>>(),
        ["was mode off", "mode on"],
        "turned on by the client's request"
    );
    let back = run.json("outputs-back.json");
    assert_eq!(output(&back, "HEADLESS-2")["powered"], true);
    assert!(
        output(&back, "HEADLESS-2")["frames"].as_u64()
            > output(&later, "HEADLESS-2")["frames"].as_u64(),
        "it draws again"
    );
    assert_eq!(
        gpu_parked(&run.json("gpus-back.json"), "soft1"),
        Some(false),
        "soft1 woke for it"
    );
    assert_eq!(
        intermediate_bytes(&run.json("vram-back.json")),
        before,
        "its intermediate is back"
    );
    let window = foreground_pixels(&run.path("back.png"));
    assert!(
        window > 200 * 150 * 8 / 10,
        "HEADLESS-2 shows the window again ({window} pixels)"
    );
}

#[test]
fn screens_go_off_after_the_idle_timeout_unless_a_window_inhibits_idleness() {
    let config = tempfile::NamedTempFile::new().expect("config file");
    std::fs::write(config.path(), "[idle]\nscreens_off_after = 1\n").expect("config");
    let script = r#"
all_off() { tandem-compositor msg outputs --json | tr -d ' \n' | grep -q '"powered":true' && return 1; return 0; }
tandem-test-client --size 100x100 --inhibit-idle > /dev/null 2>&1 & inhibiting=$!
sleep 3
tandem-compositor msg outputs --json > "$OUT/inhibited.json"
kill $inhibiting; wait $inhibiting
started=$(date +%s%N)
i=0; until all_off; do i=$((i+1)); [ $i -gt 100 ] && break; sleep 0.1; done
echo $((($(date +%s%N) - started) / 1000000)) > "$OUT/off-after-ms.txt"
tandem-compositor msg outputs --json > "$OUT/idle.json"
tandem-test-client --lock 0.2 --colour ff20c040 > "$OUT/lock.txt" 2>&1
tandem-compositor msg power on
tandem-compositor msg outputs --json > "$OUT/on.json"
tandem-compositor msg power off --output HEADLESS-1
tandem-compositor msg outputs --json > "$OUT/one-off.json"
tandem-compositor msg power on --output HEADLESS-9 > "$OUT/unknown.txt" 2>&1 && echo accepted >> "$OUT/unknown.txt"
tandem-test-client --output-power HEADLESS-2=off --power-hold 3 > "$OUT/removed.txt" 2>&1 & holder=$!
sleep 1
tandem-compositor msg output-remove --output HEADLESS-2
wait $holder
tandem-compositor msg quit
"#;
    let config_path = config.path().to_string_lossy().into_owned();
    let run = run_compositor(
        &[
            "--backend",
            "headless",
            "--gpus",
            "2",
            "--config",
            &config_path,
        ],
        script,
        &[],
    );
    let text = |name: &str| std::fs::read_to_string(run.path(name)).unwrap_or_default();
    let powered = |name: &str| -> Vec<bool> {
        run.json(name)["outputs"]
            .as_array()
            .map(|outputs| {
                outputs
                    .iter()
                    .map(|o| o["powered"].as_bool().unwrap_or(false))
                    .collect()
            })
            .unwrap_or_default()
    };
    assert_eq!(
        powered("inhibited.json"),
        [true, true],
        "3 s past a 1 s timeout, screens stay on while a window inhibits idleness"
    );
    assert_eq!(
        powered("idle.json"),
        [false, false],
        "once the inhibitor went, every screen goes off ({} ms later)",
        text("off-after-ms.txt").trim()
    );
    assert_eq!(
        text("lock.txt").lines().next(),
        Some("locked"),
        "a locker is told locked while the screens are off"
    );
    assert_eq!(powered("on.json"), [true, true], "msg power on");
    assert_eq!(
        powered("one-off.json"),
        [false, true],
        "msg power off --output"
    );
    assert!(
        text("unknown.txt").contains("no output HEADLESS-9")
            && !text("unknown.txt").contains("accepted"),
        "an unknown output is refused: {}",
        text("unknown.txt")
    );
    assert_eq!(
        text("removed.txt").lines().collect::<Vec<_>>(),
        ["was mode on", "mode off", "failed"],
        "a power object whose output goes is told failed"
    );
}
