//! The session through real clients: swaylock locks every output (an output added while locked
//! included) and no window is shown while locked; a second locker is refused and cannot unlock
//! with its refused lock; a locker killed leaves the session locked, another locker takes over
//! and unlocks. swayidle's timeout runs while nothing inhibits idleness, and not while a window
//! holds an idle inhibitor.

mod common;

use common::*;

/// Pixels of `path` within 8 per channel of `rgb`, and all its pixels.
fn pixels_of(path: &std::path::Path, rgb: [u8; 3]) -> (usize, usize) {
    let (pixels, _) = read_png(path);
    let matching = pixels
        .chunks_exact(4)
        .filter(|p| p[..3].iter().zip(rgb).all(|(a, b)| a.abs_diff(b) <= 8))
        .count();
    (matching, pixels.len() / 4)
}

const WINDOW: [u8; 3] = [0xe0, 0x30, 0x20];
const SWAYLOCK: [u8; 3] = [0x20, 0xc0, 0x40];
const BACKGROUND: [u8; 3] = [26, 26, 36];

#[test]
fn swaylock_locks_every_output_until_a_locker_unlocks() {
    require("swaylock", "swaylock");
    let script = r#"
tandem-test-client --colour ffe03020 --size 200x150 > /dev/null 2>&1 & window=$!
i=0; until tandem-compositor msg windows --json | grep -q app_id; do
  i=$((i+1)); [ $i -gt 100 ] && break; sleep 0.1; done
locked() { tandem-compositor msg session --json | grep -q '"locked": true'; }
swaylock -c 20c040 > "$OUT/swaylock.txt" 2>&1 & locker=$!
i=0; until locked; do i=$((i+1)); [ $i -gt 100 ] && break; sleep 0.1; done
sleep 1
tandem-compositor msg session --json > "$OUT/locked.json"
tandem-compositor msg screenshot --output HEADLESS-1 "$OUT/locked-1.png"
tandem-compositor msg screenshot --output HEADLESS-2 "$OUT/locked-2.png"
added=$(tandem-compositor msg output-add --size 320x240 | sed 's/^added //')
sleep 1.5
tandem-compositor msg screenshot --output "$added" "$OUT/locked-added.png"
tandem-test-client --lock 0 --lock-unlock-refused > "$OUT/refused.txt" 2>&1
tandem-compositor msg session --json > "$OUT/after-refused.json"
kill -9 $locker; wait $locker
sleep 0.5
tandem-compositor msg session --json > "$OUT/dead.json"
tandem-compositor msg screenshot --output HEADLESS-1 "$OUT/dead-1.png"
tandem-test-client --lock 0.5 --colour ff2060e0 > "$OUT/takeover.txt" 2>&1
tandem-compositor msg session --json > "$OUT/unlocked.json"
sleep 0.5
tandem-compositor msg screenshot --output HEADLESS-1 "$OUT/unlocked-1.png"
kill $window
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
    let locked = run.json("locked.json");
    assert_eq!(
        (locked["locked"].as_bool(), locked["locker"].as_bool()),
        (Some(true), Some(true)),
        "swaylock locks the session: {locked}\nswaylock: {}",
        log("swaylock.txt")
    );
    for name in ["locked-1.png", "locked-2.png"] {
        let (window, _) = pixels_of(&run.path(name), WINDOW);
        let (green, all) = pixels_of(&run.path(name), SWAYLOCK);
        assert_eq!(window, 0, "{name}: the window shows through the lock");
        assert!(
            green > all * 9 / 10,
            "{name}: swaylock's colour covers {green} of {all} pixels"
        );
    }
    let (window, _) = pixels_of(&run.path("locked-added.png"), WINDOW);
    let (green, all) = pixels_of(&run.path("locked-added.png"), SWAYLOCK);
    let (background, _) = pixels_of(&run.path("locked-added.png"), BACKGROUND);
    assert_eq!(window, 0, "an output added while locked shows no window");
    assert!(
        green + background > all * 9 / 10,
        "an output added while locked shows the lock ({green} pixels) or the background \
         ({background}) of {all}"
    );
    let refused = log("refused.txt");
    assert!(
        refused.contains("finished") && refused.contains("invalid_unlock")
            || refused.contains("finished") && refused.contains("does not hold"),
        "a second locker is refused, and unlocking with its lock is a protocol error: {refused}"
    );
    assert_eq!(
        run.json("after-refused.json")["locked"].as_bool(),
        Some(true),
        "still locked after the refused locker tried to unlock"
    );
    let dead = run.json("dead.json");
    assert_eq!(
        (dead["locked"].as_bool(), dead["locker"].as_bool()),
        (Some(true), Some(false)),
        "a killed locker leaves the session locked: {dead}"
    );
    let (window, _) = pixels_of(&run.path("dead-1.png"), WINDOW);
    assert_eq!(window, 0, "the window shows after the locker was killed");
    let takeover = log("takeover.txt");
    assert!(
        takeover.contains("locked") && takeover.contains("unlocked"),
        "another locker takes the lock over and unlocks: {takeover}"
    );
    assert_eq!(
        run.json("unlocked.json")["locked"].as_bool(),
        Some(false),
        "unlocked"
    );
    let (window, _) = pixels_of(&run.path("unlocked-1.png"), WINDOW);
    assert!(
        window > 200 * 150 * 8 / 10,
        "the window shows again after unlocking ({window} pixels)"
    );
}

#[test]
fn swayidle_runs_its_timeout_unless_a_window_inhibits_idleness() {
    require("swayidle", "swayidle");
    let script = r#"
inhibited() { tandem-compositor msg session --json | grep -q '"idle_inhibited": true'; }
tandem-test-client --size 100x100 --inhibit-idle > /dev/null 2>&1 & inhibiting=$!
i=0; until inhibited; do i=$((i+1)); [ $i -gt 100 ] && break; sleep 0.1; done
tandem-compositor msg session --json > "$OUT/inhibited.json"
swayidle -w timeout 1 "touch $OUT/idle" > "$OUT/swayidle.txt" 2>&1 & idle=$!
sleep 3
[ -e "$OUT/idle" ] && echo "idle while inhibited" > "$OUT/early.txt"
kill $inhibiting; wait $inhibiting
i=0; until [ -e "$OUT/idle" ]; do i=$((i+1)); [ $i -gt 100 ] && break; sleep 0.1; done
tandem-compositor msg session --json > "$OUT/released.json"
kill $idle
tandem-compositor msg quit
"#;
    let run = run_compositor(&["--backend", "headless", "--gpus", "1"], script, &[]);
    let log = |name: &str| std::fs::read_to_string(run.path(name)).unwrap_or_default();
    assert_eq!(
        run.json("inhibited.json")["idle_inhibited"].as_bool(),
        Some(true),
        "the window's inhibitor is counted"
    );
    assert!(
        !run.path("early.txt").exists(),
        "swayidle's 1 s timeout ran while a window inhibited idleness"
    );
    assert!(
        run.path("idle").exists(),
        "swayidle's timeout did not run once the inhibitor went: {}",
        log("swayidle.txt")
    );
    assert_eq!(
        run.json("released.json")["idle_inhibited"].as_bool(),
        Some(false),
        "the inhibitor went with its window"
    );
}
