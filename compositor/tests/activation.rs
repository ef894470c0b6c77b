//! xdg-activation through real clients: a client with the keyboard focus hands it to its other
//! window with a token (raised and focused); a client in the background asks for a token later
//! and its window does not take the focus.

mod common;

use common::*;

fn focused(windows: &serde_json::Value) -> Vec<(String, String)> {
    windows["windows"]
        .as_array()
        .map(|all| {
            all.iter()
                .filter(|w| w["focused"] == true)
                .map(|w| {
                    let text = |key: &str| w[key].as_str().unwrap_or_default().to_owned();
                    (text("app_id"), text("title"))
                })
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn a_focused_client_hands_the_focus_over_and_a_background_one_cannot_take_it() {
    let script = r#"
count() { tandem-compositor msg windows --json | grep -c '"app_id"'; }
wait_windows() { i=0; until [ "$(count)" -ge "$1" ]; do i=$((i+1)); [ $i -gt 100 ] && break; sleep 0.1; done; }
tandem-test-client --app-id background --size 100x80 --activate-first-after 3 > "$OUT/background.txt" 2>&1 & background=$!
wait_windows 1
tandem-test-client --app-id launcher --windows 2 --size 120x90 --activate-first-after 1 > "$OUT/launcher.txt" 2>&1 & launcher=$!
wait_windows 3
sleep 0.3
tandem-compositor msg windows --json > "$OUT/before.json"
sleep 1.5
tandem-compositor msg windows --json > "$OUT/handed-over.json"
sleep 2.5
tandem-compositor msg windows --json > "$OUT/after-background.json"
kill $background $launcher
tandem-compositor msg quit
"#;
    let run = run_compositor(&["--backend", "headless", "--gpus", "1"], script, &[]);
    let log = |name: &str| std::fs::read_to_string(run.path(name)).unwrap_or_default();
    let pair = |app: &str, title: &str| vec![(app.to_owned(), title.to_owned())];
    assert_eq!(
        focused(&run.json("before.json")),
        pair("launcher", "window 1"),
        "the newest window has the focus"
    );
    assert!(
        log("launcher.txt").contains("activation token"),
        "the launcher got a token: {}",
        log("launcher.txt")
    );
    let handed = run.json("handed-over.json");
    assert_eq!(
        focused(&handed),
        pair("launcher", "window 0"),
        "activated with the token, window 0 has the focus: {handed}"
    );
    let topmost = handed["windows"]
        .as_array()
        .and_then(|all| all.last())
        .map(|w| (w["app_id"].clone(), w["title"].clone()));
    assert_eq!(
        topmost,
        Some(("launcher".into(), "window 0".into())),
        "and is raised"
    );
    assert_eq!(
        focused(&run.json("after-background.json")),
        pair("launcher", "window 0"),
        "the background client's token does not take the focus: {}",
        log("background.txt")
    );
}
