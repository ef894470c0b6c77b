//! What key bindings do, through `msg action` against the real compositor with foot windows:
//! focus cycles through the windows both ways, maximize and fullscreen fill the output and
//! restore, a window moves to the next output, a bound program starts with the session's
//! environment, and an unknown action is refused.

mod common;

use common::*;

fn windows(run: &Run, name: &str) -> Vec<serde_json::Value> {
    run.json(name)["windows"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn focused(run: &Run, name: &str) -> serde_json::Value {
    let all = windows(run, name);
    all.iter()
        .find(|w| w["focused"] == true)
        .cloned()
        .unwrap_or_else(|| panic!("{name}: no window has the keyboard: {all:?}"))
}

#[test]
fn key_binding_actions_manage_windows() {
    require("foot", "foot");
    let script = r#"
count() { tandem-compositor msg windows --json | grep -c '"app_id"'; }
for app in one two three; do
  foot --app-id $app > /dev/null 2>&1 &
  i=0; until [ "$(count)" -ge $(( $(echo one two three | tr ' ' '\n' | grep -n "^$app$" | cut -d: -f1) )) ]; do
    i=$((i+1)); [ $i -gt 100 ] && break; sleep 0.1; done
  sleep 0.5
done
tandem-compositor msg windows --json > "$OUT/start.json"
tandem-compositor msg action focus-next; tandem-compositor msg windows --json > "$OUT/next.json"
tandem-compositor msg action focus-next; tandem-compositor msg windows --json > "$OUT/next2.json"
tandem-compositor msg action focus-previous; tandem-compositor msg windows --json > "$OUT/previous.json"
tandem-compositor msg action maximize; sleep 1; tandem-compositor msg windows --json > "$OUT/maximized.json"
tandem-compositor msg action maximize; sleep 1; tandem-compositor msg windows --json > "$OUT/restored.json"
tandem-compositor msg action move-to-next-output; sleep 0.5; tandem-compositor msg windows --json > "$OUT/moved.json"
tandem-compositor msg action fullscreen; sleep 1; tandem-compositor msg windows --json > "$OUT/fullscreen.json"
tandem-compositor msg action "spawn sh -c env>$OUT/env.txt"
tandem-compositor msg action explode > "$OUT/explode.txt" 2>&1; echo "status $?" >> "$OUT/explode.txt"
sleep 0.5
pkill -x foot
tandem-compositor msg quit
"#;
    let run = run_compositor(
        &[&ONE_GPU_640X480[..], &["--output", "640x480"]].concat(),
        script,
        &[],
    );
    let log = |name: &str| std::fs::read_to_string(run.path(name)).unwrap_or_default();
    let app = |window: &serde_json::Value| window["app_id"].as_str().unwrap_or("").to_string();
    assert_eq!(
        windows(&run, "start.json").len(),
        3,
        "three foot windows: {}",
        run.stderr
    );
    assert_eq!(
        app(&focused(&run, "start.json")),
        "three",
        "the newest has the keyboard"
    );
    assert_eq!(
        app(&focused(&run, "next.json")),
        "one",
        "focus-next: the bottom window"
    );
    assert_eq!(app(&focused(&run, "next2.json")), "two", "focus-next again");
    assert_eq!(
        app(&focused(&run, "previous.json")),
        "one",
        "focus-previous goes back"
    );
    let maximized = focused(&run, "maximized.json");
    assert!(
        maximized["width"].as_i64() > Some(600) && maximized["height"].as_i64() > Some(400),
        "maximize fills the 640x480 output: {maximized}"
    );
    let restored = focused(&run, "restored.json");
    let before = windows(&run, "start.json")
        .into_iter()
        .find(|w| app(w) == "one")
        .expect("window one");
    let place = |w: &serde_json::Value| {
        ["x", "y", "width", "height"].map(|key| w[key].as_i64().unwrap_or(-1))
    };
    assert_eq!(
        place(&restored),
        place(&before),
        "maximize again restores its place and size: {restored}"
    );
    let moved = focused(&run, "moved.json");
    assert!(
        moved["x"].as_i64() >= Some(640),
        "move-to-next-output puts it on the second output (x from 640): {moved}"
    );
    let fullscreen = focused(&run, "fullscreen.json");
    assert_eq!(
        (
            fullscreen["x"].as_i64(),
            fullscreen["width"].as_i64(),
            fullscreen["height"].as_i64()
        ),
        (Some(640), Some(640), Some(480)),
        "fullscreen fills the second output: {fullscreen}"
    );
    let env = log("env.txt");
    assert!(
        env.contains("XDG_CURRENT_DESKTOP=tandem:wlroots")
            && env.contains("XDG_SESSION_TYPE=wayland"),
        "a bound program gets the session's environment: {env}"
    );
    let explode = log("explode.txt");
    assert!(
        explode.contains("unknown action") && explode.contains("status 1"),
        "{explode}"
    );
}
